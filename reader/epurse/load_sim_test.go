package epurse_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// pinSource is a SystemPINSource for the tests: a fixed answer, counted.
type pinSource struct {
	pin   []byte
	err   error
	calls []epurse.SystemPINRequest
}

func (p *pinSource) SystemPIN(_ context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	p.calls = append(p.calls, req)
	return append([]byte(nil), p.pin...), p.err
}

// counting counts the commands sent to a card by instruction.
type counting struct {
	reader.Card
	n map[byte]int
}

func (c counting) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) > 1 {
		c.n[cmd[1]]++
	}
	return c.Card.Transmit(ctx, cmd)
}

// TestLoadWithSystemPIN: a load on the strict virtual card without a PIN
// is refused (6982) and moves nothing; with the system PIN from a SAM it
// works; with the holder's PIN verified first it works; a wrong system
// PIN counts down the system PIN's own retry counter; a source without
// the key refuses before the card is asked anything that counts.
func TestLoadWithSystemPIN(t *testing.T) {
	w := newWorld(t, nil)
	req := func(pin epurse.SystemPINSource) epurse.LoadRequest {
		return epurse.LoadRequest{Amount: 2000, Time: epurse.NewDateTime(time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC)),
			TermID: kioskID, CardSerial: w.pub.Factor(), PIN: pin}
	}
	var se *reader.StatusError
	out := epurse.Load(w.ctx, w.tap(), testHost{}, req(nil))
	if out.Kind != epurse.Refused || !errors.As(out.Err, &se) || se.SW != reader.SWSecurityNotSatisfied {
		t.Fatalf("load without a PIN: %v %v, want Refused 6982", out.Kind, out.Err)
	}
	if st := w.card.Status(); st.Balance != 10000 || st.OnlineCounter != 0 {
		t.Fatalf("a refused load moved the card: %+v", st)
	}

	// The system PIN from the SAM (the software SAM of POS A).
	c := counting{w.tap(), map[byte]int{}}
	out = epurse.Load(w.ctx, c, testHost{}, req(w.a))
	if out.Kind != epurse.Done || out.BalanceAfter != 12000 || out.Err != nil {
		t.Fatalf("load with the system PIN: %v %v", out.Kind, out.Err)
	}
	if c.n[sim.InsVerify] != 1 || c.n[sim.InsInit] != 2 || c.n[sim.InsCreditForLoad] != 1 {
		t.Fatalf("commands %v: want one VERIFY, INITIALIZE for purchase (key version) and for load, one CREDIT", c.n)
	}
	if st := w.card.Status(); st.Balance != 12000 || st.OnlineCounter != 1 || st.SystemPINTries != 15 {
		t.Fatalf("after the load: %+v", st)
	}

	// The holder's PIN, verified by the kiosk first: no source needed.
	c2 := w.tap()
	if err := epurse.VerifyPIN(w.ctx, c2, "123456"); err != nil {
		t.Fatal(err)
	}
	if out := epurse.Load(w.ctx, c2, testHost{}, req(nil)); out.Kind != epurse.Done || out.BalanceAfter != 14000 {
		t.Fatalf("load with the holder's PIN: %v %v", out.Kind, out.Err)
	}

	// A wrong system PIN: refused, the system PIN's tries count down, the
	// holder's do not.
	bad := &pinSource{pin: []byte{0x00, 0x00, 0x00}}
	out = epurse.Load(w.ctx, w.tap(), testHost{}, req(bad))
	var pe *epurse.PINError
	if out.Kind != epurse.Refused || !errors.As(out.Err, &pe) || pe.Retries != 14 {
		t.Fatalf("wrong system PIN: %v %v", out.Kind, out.Err)
	}
	if len(bad.calls) != 1 || bad.calls[0] != (epurse.SystemPINRequest{CardSerial: w.pub.Factor(), KeyVersion: 1, Algorithm: epurse.AlgDES}) {
		t.Fatalf("source asked %+v", bad.calls)
	}
	if st := w.card.Status(); st.SystemPINTries != 14 || st.PINTries != 3 || st.Balance != 14000 {
		t.Fatalf("after a wrong system PIN: %+v", st)
	}

	// A source without the key: refused with ErrNoSystemPIN, no VERIFY.
	none := &pinSource{err: epurse.ErrNoSystemPIN}
	c3 := counting{w.tap(), map[byte]int{}}
	if out := epurse.Load(w.ctx, c3, testHost{}, req(none)); out.Kind != epurse.Refused || !errors.Is(out.Err, epurse.ErrNoSystemPIN) {
		t.Fatalf("no system-PIN key: %v %v", out.Kind, out.Err)
	}
	if c3.n[sim.InsVerify] != 0 || c3.n[sim.InsCreditForLoad] != 0 {
		t.Fatalf("commands without a PIN: %v", c3.n)
	}
}

// TestRecoverLoadWithSystemPIN: RecoverLoad needs INITIALIZE FOR LOAD,
// hence a PIN: with the source it presents the system PIN itself (the key
// version and algorithm are the torn load's); without one, on a fresh
// tap, the card refuses and the load stays uncertain.
func TestRecoverLoadWithSystemPIN(t *testing.T) {
	w := newWorld(t, nil)
	if err := w.card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsCreditForLoad}); err != nil {
		t.Fatal(err)
	}
	out := epurse.Load(w.ctx, w.tap(), testHost{}, epurse.LoadRequest{Amount: 2000,
		Time: epurse.NewDateTime(time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC)), TermID: kioskID, CardSerial: w.pub.Factor(), PIN: w.a})
	if out.Kind != epurse.Uncertain {
		t.Fatalf("torn load: %v %v", out.Kind, out.Err)
	}
	var se *reader.StatusError
	if rec := epurse.RecoverLoad(w.ctx, w.tap(), out.Auth, 0, nil); rec.Kind != epurse.Uncertain || !errors.As(rec.Err, &se) || se.SW != reader.SWSecurityNotSatisfied {
		t.Fatalf("recover without a PIN: %v %v", rec.Kind, rec.Err)
	}
	if rec := epurse.RecoverLoad(w.ctx, w.tap(), out.Auth, 0, w.a); rec.Kind != epurse.Done || rec.BalanceAfter != 12000 {
		t.Fatalf("recover with the system PIN: %v %v", rec.Kind, rec.Err)
	}
}
