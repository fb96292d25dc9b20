package protocol

import "testing"

func TestCodeHTTPStatus(t *testing.T) {
	want := map[Code]int{
		CodeMalformed: 400, CodeBadSignature: 401, CodeUnknownDevice: 401, CodeRevoked: 403, CodeTokenInvalid: 403,
		CodeGap: 409, CodeFork: 409, CodeChainBroken: 409, CodeStaleVersion: 409, CodeTooLarge: 413,
		CodeNoPendingLoad: 404, CodeMACInvalid: 422, CodeInternal: 500, CodeUnsupportedAlg: 400, CodeRateLimited: 429, 99: 500,
	}
	for c, s := range want {
		if c.HTTPStatus() != s {
			t.Errorf("%v: HTTP %d, want %d", c, c.HTTPStatus(), s)
		}
	}
	if !CodeRateLimited.Retryable() || !CodeInternal.Retryable() || CodeGap.Retryable() {
		t.Error("Retryable")
	}
}
