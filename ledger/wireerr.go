package ledger

import (
	"errors"
	"net/http"

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

// httpStatus is the HTTP status of an error code.
func httpStatus(c protocol.Code) int {
	switch c {
	case protocol.CodeMalformed, protocol.CodeUnsupportedAlg:
		return http.StatusBadRequest
	case protocol.CodeBadSignature, protocol.CodeUnknownDevice:
		return http.StatusUnauthorized
	case protocol.CodeRevoked, protocol.CodeTokenInvalid:
		return http.StatusForbidden
	case protocol.CodeGap, protocol.CodeFork, protocol.CodeChainBroken, protocol.CodeStaleVersion:
		return http.StatusConflict
	case protocol.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case protocol.CodeNoPendingLoad:
		return http.StatusNotFound
	case protocol.CodeMACInvalid:
		return http.StatusUnprocessableEntity
	case protocol.CodeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}
