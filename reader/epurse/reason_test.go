package epurse_test

import (
	"fmt"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// TestReasonCode: every failure a terminal journals has its stable code,
// wrapped or not; what no rule names is "card-answer-lost".
func TestReasonCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "unknown"},
		{epurse.ErrInsufficientBalance, "insufficient-balance"},
		{fmt.Errorf("debit: %w", epurse.ErrLocked), "card-locked"},
		{epurse.ErrMACInvalid, "mac-invalid"},
		{epurse.ErrWrongCard, "wrong-card"},
		{fmt.Errorf("credit: %w", reader.ErrCardRemoved), "card-removed"},
		{reader.ErrTimeout, "card-timeout"},
		{&reader.StatusError{SW: 0x6985}, "card-sw-6985"},
		{fmt.Errorf("something else"), "card-answer-lost"},
	}
	for _, tt := range tests {
		if got := epurse.ReasonCode(tt.err); got != tt.want {
			t.Errorf("ReasonCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if !epurse.Transient(fmt.Errorf("x: %w", reader.ErrTransport)) || epurse.Transient(epurse.ErrMACInvalid) {
		t.Error("Transient: a broken link is transient, a wrong MAC is not")
	}
}
