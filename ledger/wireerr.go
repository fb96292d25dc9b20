package ledger

import (
	"errors"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
)

// codes maps the ledger's sentinels to the stable protocol error codes.
var codes = []struct {
	err  error
	code protocol.Code
}{
	{ErrMalformed, protocol.CodeMalformed},
	{ErrBadSignature, protocol.CodeBadSignature},
	{ErrUnknownDevice, protocol.CodeUnknownDevice},
	{ErrRevoked, protocol.CodeRevoked},
	{ErrTokenInvalid, protocol.CodeTokenInvalid},
	{ErrGap, protocol.CodeGap},
	{ErrFork, protocol.CodeFork},
	{ErrChainBroken, protocol.CodeChainBroken},
	{ErrStaleVersion, protocol.CodeStaleVersion},
	{ErrTooLarge, protocol.CodeTooLarge},
	{ErrNoPendingLoad, protocol.CodeNoPendingLoad},
	{ErrMACInvalid, protocol.CodeMACInvalid},
	{ErrUnsupportedAlg, protocol.CodeUnsupportedAlg},
	{accounts.ErrSpendOnly, protocol.CodeSpendOnly},
	{accounts.ErrOverdrawnFrozen, protocol.CodeOverdrawnFrozen},
	{accounts.ErrLost, protocol.CodeAccountLost},
	{accounts.ErrFrozen, protocol.CodeAccountFrozen},
	{accounts.ErrDormant, protocol.CodeAccountDormant},
	{accounts.ErrCancelled, protocol.CodeAccountCancelled},
	{accounts.ErrExpired, protocol.CodeAccountExpired},
	{accounts.ErrPurseLimit, protocol.CodePurseLimit},
	{accounts.ErrInsufficient, protocol.CodeNoPendingLoad},
	{ErrPINInvalid, protocol.CodePINInvalid},
	{ErrPINLocked, protocol.CodePINLocked},
	{ErrNoAccount, protocol.CodeNoAccount},
	{ErrBankRefused, protocol.CodeBankRefused},
	{ErrBankUnavailable, protocol.CodeBankUnavailable},
	{ErrAmountLimit, protocol.CodeAmountLimit},
}

// wireError returns the protocol Error to send for err: a *protocol.Error
// as it is, a ledger sentinel as its code (a gap with Expected), anything
// else as internal.
func wireError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			out := &protocol.Error{Code: c.code, Message: err.Error()}
			var ge *GapError
			if errors.As(err, &ge) {
				out.Expected = ge.Expected
			}
			return out
		}
	}
	return &protocol.Error{Code: protocol.CodeInternal, Message: err.Error()}
}

// httpStatus is the HTTP status of an error code (protocol.Code.HTTPStatus).
func httpStatus(c protocol.Code) int { return c.HTTPStatus() }
