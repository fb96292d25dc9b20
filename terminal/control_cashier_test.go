package terminal_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/terminaltest"
)

// TestControlCancelLastNoCashier: a POS with no cashier PIN configured
// refuses cancel-last with a reason, even to the credential's holder.
func TestControlCancelLastNoCashier(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	r.sell()
	st, body := r.call("POST", "/v1/cancel-last", map[string]string{"Authorization": "Bearer " + r.token()}, `{"pin":"1234"}`)
	if st != http.StatusForbidden || code(t, body) != "no_cashier" || !strings.Contains(body, "cashier_pin_hash") {
		t.Errorf("cancel-last with no cashier configured: %d %s, want 403 no_cashier naming pos.cashier_pin_hash", st, body)
	}
	if n := r.reversals(); n != 0 {
		t.Errorf("%d sales reversed with no cashier configured", n)
	}
}

// cashierPIN is the rig's cashier PIN; withCashier configures its hash.
const cashierPIN = terminaltest.CashierPIN

func withCashier(t *testing.T) func(*config.Config) {
	h, err := config.HashPIN(cashierPIN, config.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.POS.CashierPINHash = h }
}

// cancelAnswer is the JSON answer of POST /v1/cancel-last.
type cancelAnswer struct {
	Outcome, Code, Card, Error string
	Amount                     int64
	Intent                     uint64
	AttemptsLeft               int `json:"attempts_left"`
	RetryAfter                 int `json:"retry_after_seconds"`
}

func (r *ctlRig) cancel(pin string) (int, cancelAnswer, string) {
	r.t.Helper()
	hdr := map[string]string{}
	if !strings.HasPrefix(r.base, "http://localhost") {
		hdr["Authorization"] = "Bearer " + r.token()
	}
	body, _ := json.Marshal(map[string]string{"pin": pin})
	st, raw := r.call("POST", "/v1/cancel-last", hdr, string(body))
	var a cancelAnswer
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		r.t.Fatalf("cancel-last answer %q: %v", raw, err)
	}
	return st, a, raw
}

// TestControlCancelLastCashier: the cashier's PIN cancels the last sale and
// the answer names the card, the amount and the intent; no PIN or a wrong
// one is refused with its code and reverses nothing.
func TestControlCancelLastCashier(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	sale := r.sell()
	if st, a, raw := r.cancel(""); st != http.StatusForbidden || a.Code != "cashier_pin_required" || a.Card != "" {
		t.Errorf("cancel-last without a PIN: %d %s, want 403 cashier_pin_required naming no card", st, raw)
	}
	st, a, raw := r.cancel("2581")
	if st != http.StatusForbidden || a.Code != "cashier_pin_wrong" || a.AttemptsLeft != 4 || a.Card != "" {
		t.Errorf("cancel-last with a wrong PIN: %d %s, want 403 cashier_pin_wrong, 4 attempts left, no card", st, raw)
	}
	st, a, raw = r.cancel(cashierPIN)
	if st != http.StatusOK || a.Outcome != "cancelled" || a.Code != "sale_cancelled" || a.Card != sale.Card ||
		a.Amount != 1250 || a.Intent != sale.Intent {
		t.Errorf("cancel-last with the cashier's PIN: %d %s, want the sale %+v reversed", st, raw, sale)
	}
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusOK || a.Outcome != "refused" || a.Code != "already_cancelled" {
		t.Errorf("second cancel-last: %d %s, want refused already_cancelled", st, raw)
	}
	if logs := r.logs.String(); strings.Contains(logs, cashierPIN) || strings.Contains(logs, "2581") {
		t.Errorf("a PIN reached the log:\n%s", logs)
	}
	if n := r.reversals(); n != 1 {
		t.Errorf("%d reversals journaled, want 1", n)
	}
}

// TestControlCancelLastLockout: five wrong PINs lock the cashier out; while
// locked even the right PIN is refused (429 with Retry-After); after the
// lockout the right PIN works, and a new run of wrong ones locks longer.
func TestControlCancelLastLockout(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	sale := r.sell()
	for i := 4; i >= 0; i-- {
		st, a, raw := r.cancel("0000")
		want := http.StatusForbidden
		if i == 0 {
			want = http.StatusTooManyRequests
		}
		if st != want || (i > 0 && (a.Code != "cashier_pin_wrong" || a.AttemptsLeft != i)) || (i == 0 && a.Code != "cashier_locked") {
			t.Fatalf("wrong PIN, %d attempts left: %d %s", i, st, raw)
		}
	}
	st, a, raw := r.cancel(cashierPIN)
	if st != http.StatusTooManyRequests || a.Code != "cashier_locked" || a.RetryAfter != 300 {
		t.Errorf("the right PIN while locked out: %d %s, want 429 cashier_locked retry after 300s", st, raw)
	}
	r.clock.Advance(5*time.Minute - time.Second)
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusTooManyRequests || a.Code != "cashier_locked" || a.RetryAfter != 1 {
		t.Errorf("the right PIN a second before the end of the lockout: %d %s", st, raw)
	}
	r.clock.Advance(time.Second)
	// The sale is older than the cancel window now: the PIN is accepted,
	// and the sale refused as too late.
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusOK || a.Code != "cancel_expired" || a.Intent != sale.Intent {
		t.Errorf("the right PIN after the lockout: %d %s, want 200 cancel_expired", st, raw)
	}
	// The right PIN reset the count: five more wrong ones lock again.
	for i := 0; i < 5; i++ {
		r.cancel("0000")
	}
	if st, a, _ := r.cancel(cashierPIN); st != http.StatusTooManyRequests || a.RetryAfter != 300 {
		t.Errorf("after five more wrong PINs: %d %+v, want locked for 300s", st, a)
	}
	r.clock.Advance(5 * time.Minute)
	r.cancel("0000") // one wrong PIN right after a lockout locks again, longer
	if st, a, _ := r.cancel(cashierPIN); st != http.StatusTooManyRequests || a.RetryAfter != 600 {
		t.Errorf("a wrong PIN right after a lockout: %d %+v, want locked for 600s", st, a)
	}
	if n := r.reversals(); n != 0 {
		t.Errorf("%d reversals journaled", n)
	}
}

// TestControlCancelLastUnixSocket: the unix socket needs no credential, but
// the cashier's PIN still.
func TestControlCancelLastUnixSocket(t *testing.T) {
	r := startCtlRig(t, "unix:control.sock", withCashier(t))
	sale := r.sell()
	if st, a, raw := r.cancel("1111"); st != http.StatusForbidden || a.Code != "cashier_pin_wrong" {
		t.Errorf("cancel-last over the socket with a wrong PIN: %d %s", st, raw)
	}
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusOK || a.Code != "sale_cancelled" || a.Intent != sale.Intent {
		t.Errorf("cancel-last over the socket with the PIN: %d %s", st, raw)
	}
}

// TestControlCancelLastKeepsPINSecret: a malformed body carrying a PIN is
// refused without quoting it, in the answer and in the log.
func TestControlCancelLastKeepsPINSecret(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	r.sell()
	auth := map[string]string{"Authorization": "Bearer " + r.token()}
	for _, body := range []string{`{"pin": 97531}`, `{"pin": "97531"`, `{"pin": "97531", "pin": x97531}`, `97531`,
		`{"pin": "97531", "extra": 1}`, `{"pin": "` + strings.Repeat("97531", 400) + `"}`} {
		st, raw := r.call("POST", "/v1/cancel-last", auth, body)
		if st != http.StatusBadRequest || code(t, raw) != "bad_request" {
			t.Errorf("cancel-last with body %.40s: %d %s, want 400 bad_request", body, st, raw)
		}
		if strings.Contains(raw, "9753") {
			t.Errorf("the answer quotes the PIN: %s", raw)
		}
	}
	if st, a, raw := r.cancel("97531"); st != http.StatusForbidden || a.Code != "cashier_pin_wrong" || strings.Contains(raw, "97531") {
		t.Errorf("wrong PIN: %d %s", st, raw)
	}
	if logs := r.logs.String(); strings.Contains(logs, "9753") {
		t.Errorf("the PIN reached the log:\n%s", logs)
	}
}
