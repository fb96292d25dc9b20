package protocol

import (
	"errors"
	"testing"
)

func TestCodeHTTPStatus(t *testing.T) {
	want := map[Code]int{
		CodeMalformed: 400, CodeBadSignature: 401, CodeUnknownDevice: 401, CodeRevoked: 403, CodeTokenInvalid: 403,
		CodeGap: 409, CodeFork: 409, CodeChainBroken: 409, CodeStaleVersion: 409, CodeTooLarge: 413,
		CodeNoPendingLoad: 404, CodeMACInvalid: 422, CodeInternal: 500, CodeUnsupportedAlg: 400, CodeRateLimited: 429, 99: 500,
		CodeSpendOnly: 403, CodeOverdrawnFrozen: 403, CodeAccountLost: 403, CodeAccountFrozen: 403, CodeAccountDormant: 403,
		CodeAccountCancelled: 403, CodeAccountExpired: 403, CodePINInvalid: 403, CodePINLocked: 403, CodeNoAccount: 404,
		CodeBankRefused: 402, CodePurseLimit: 422, CodeAmountLimit: 422, CodeBankUnavailable: 503, CodePSAMBinding: 403,
	}
	for c, s := range want {
		if c.HTTPStatus() != s {
			t.Errorf("%v: HTTP %d, want %d", c, c.HTTPStatus(), s)
		}
	}
	if !CodeRateLimited.Retryable() || !CodeInternal.Retryable() || CodeGap.Retryable() || !CodeBankUnavailable.Retryable() || CodeBankRefused.Retryable() || CodePSAMBinding.Retryable() {
		t.Error("Retryable")
	}
}

func TestCheckVersion(t *testing.T) {
	if err := CheckVersion(5, 4); !errors.Is(err, ErrStale) {
		t.Fatalf("older: %v", err)
	}
	if CheckVersion(5, 5) != nil || CheckVersion(5, 6) != nil || CheckVersion(0, 1) != nil {
		t.Fatal("same or newer refused")
	}
}
