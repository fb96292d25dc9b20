package sam_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// slotRig is a Slot over a pcscSlot, running until the test ends.
type slotRig struct {
	t    *testing.T
	f    *pcscSlot
	s    *sam.Slot
	logs *testbuf.Buffer
}

func newSlotRig(t *testing.T, opts sam.SlotOptions) *slotRig {
	t.Helper()
	rg := &slotRig{t: t, f: newPCSCSlot(), logs: &testbuf.Buffer{}}
	opts.Log = slog.New(slog.NewTextHandler(rg.logs, nil))
	if opts.Backoff.Min == 0 {
		opts.Backoff = reader.Backoff{Min: time.Millisecond, Max: 10 * time.Millisecond}
	}
	rg.s = sam.NewSlot(rg.f, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rg.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("slot log:\n%s", rg.logs.String())
		}
	})
	return rg
}

// ready waits (bounded) until the slot has a PSAM ready.
func (rg *slotRig) ready() {
	rg.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rg.s.WaitReady(ctx); err != nil {
		rg.t.Fatalf("no PSAM ready within 10s: %v", err)
	}
}

// gone waits (bounded) until the slot has no PSAM ready.
func (rg *slotRig) gone() {
	rg.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); rg.s.Status().Ready; {
		if time.Now().After(deadline) {
			rg.t.Fatal("the slot still has a PSAM ready after 10s")
		}
		time.Sleep(time.Millisecond) // polling the slot's state, bounded
	}
}

// purchase runs INIT SAM FOR PURCHASE and CREDIT SAM FOR PURCHASE with the
// MAC2 the card computes (corrupted when bad).
func purchase(s epurse.SAM, bad bool) error {
	ctx := context.Background()
	req := request(epurse.AlgDES)
	seq, _, err := s.InitPurchase(ctx, req)
	if err != nil {
		return err
	}
	ck, _ := sam.TestKeys().Keys[1].ForCard(req.Algorithm, req.CardSerial)
	sk, _ := epurse.PurchaseSessionKey(req.Algorithm, ck.DPK, req.Random, req.OfflineCounter, seq)
	mac2, _ := epurse.PurchaseMAC2(req.Algorithm, sk, req.Amount)
	if bad {
		mac2[0] ^= 0xFF
	}
	return s.VerifyMAC2(ctx, mac2)
}

// wantSlotErr fails unless err is a *sam.PSAMError of kind and carries
// none of what the purchase flow reads as the customer card's answer.
func wantSlotErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	var pe *sam.PSAMError
	var se *reader.StatusError
	switch {
	case !errors.As(err, &pe) || !errors.Is(err, kind):
		t.Errorf("%s: %v, want a PSAMError of kind %v", what, err, kind)
	case errors.Is(err, reader.ErrCardRemoved), errors.Is(err, reader.ErrTransport), errors.Is(err, reader.ErrTimeout),
		errors.Is(err, reader.ErrMalformed), errors.As(err, &se):
		t.Errorf("%s: %v carries a reader error the terminal would take for the customer card's", what, err)
	case errors.Is(err, epurse.ErrMACInvalid), errors.Is(err, sam.ErrMAC2):
		t.Errorf("%s: %v reads as a bad MAC2", what, err)
	}
}

// The slot sells with the PSAM seated, fails at once with ErrNoSAM while
// it is out, finds it again when it is re-seated, and notices a PSAM with
// another terminal id.
func TestPSAMSlotReseat(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{})
	ctx := context.Background()
	// Nothing seated yet: every call fails at once.
	if _, err := rg.s.TerminalID(ctx); err == nil || !strings.Contains(err.Error(), "no PSAM reported") {
		t.Errorf("TerminalID before any PSAM: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	err := rg.s.WaitReady(short)
	cancel()
	wantSlotErr(t, "WaitReady with no PSAM", err, sam.ErrNoSAM)

	psam := sim.NewDemoPSAM()
	rg.f.Seat(psam)
	rg.ready()
	tid, err := rg.s.TerminalID(ctx)
	if want := sam.TestKeys().TerminalID; err != nil || tid != want {
		t.Fatalf("TerminalID %X, %v; want %X", tid, err, want)
	}
	if err := purchase(rg.s, false); err != nil {
		t.Fatalf("purchase: %v", err)
	}
	// A bad MAC2 the PSAM checked is ErrMAC2, not a slot fault.
	if err := purchase(rg.s, true); !errors.Is(err, sam.ErrMAC2) || !errors.Is(err, epurse.ErrMACInvalid) {
		t.Fatalf("bad MAC2: %v, want ErrMAC2", err)
	}

	rg.f.Unseat()
	rg.gone()
	_, err = rg.s.TerminalID(ctx)
	wantSlotErr(t, "TerminalID with the PSAM out", err, sam.ErrNoSAM)
	_, _, err = rg.s.InitPurchase(ctx, request(epurse.AlgDES))
	wantSlotErr(t, "InitPurchase with the PSAM out", err, sam.ErrNoSAM)
	wantSlotErr(t, "VerifyMAC2 with the PSAM out", rg.s.VerifyMAC2(ctx, [4]byte{}), sam.ErrNoSAM)
	if err != nil && !strings.Contains(err.Error(), "removed") {
		t.Errorf("the error does not say the PSAM was removed: %v", err)
	}
	if st := rg.s.Status(); st.Ready || !errors.Is(st.Err, sam.ErrNoSAM) || !st.HaveID || st.TerminalID != tid {
		t.Errorf("status with the PSAM out: %+v", st)
	}
	rg.logs.WaitFor(t, `msg="sam: PSAM removed`, 10*time.Second)

	// The same PSAM back: ready by itself, no terminal id change.
	rg.f.Seat(psam)
	rg.ready()
	if err := purchase(rg.s, false); err != nil {
		t.Fatalf("purchase after the re-seat: %v", err)
	}
	if strings.Contains(rg.logs.String(), "terminal id changed") {
		t.Errorf("the same PSAM logged as a terminal id change:\n%s", rg.logs.String())
	}

	// Another PSAM, another terminal id: used, and logged.
	kf := sam.TestKeys()
	kf.TerminalID = [6]byte{0, 0, 0, 0, 0x01, 0x07}
	rg.f.Unseat()
	rg.gone()
	rg.f.Seat(sim.NewPSAMCard(kf))
	rg.ready()
	if tid, err := rg.s.TerminalID(ctx); err != nil || tid != kf.TerminalID {
		t.Fatalf("TerminalID of the other PSAM %X, %v", tid, err)
	}
	rg.logs.WaitFor(t, `msg="sam: PSAM terminal id changed: new purchase records carry the new one" reader="pcsc:Fake SAM Slot 00 00" was=0000000000f1 now=000000000107`, 10*time.Second)
	if n := strings.Count(rg.logs.String(), `msg="sam: PSAM ready"`); n != 3 {
		t.Errorf("%d PSAMs made ready, want 3", n)
	}
	if rg.f.Runs() != 1 {
		t.Errorf("the reader was restarted %d times for removals it reported itself", rg.f.Runs()-1)
	}
}

// pcscd dies under the slot: the PSAM goes with it, the slot retries with
// growing delays while pcscd is down, and is back by itself when pcscd
// is.
func TestPSAMSlotPCSCDRestart(t *testing.T) {
	sleeps := make(chan time.Duration)
	release := make(chan struct{})
	rg := newSlotRig(t, sam.SlotOptions{
		Backoff: reader.Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		Sleep: func(ctx context.Context, d time.Duration) error {
			select {
			case sleeps <- d:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	rg.f.Seat(sim.NewDemoPSAM())
	rg.ready()

	rg.f.SetUp(false)
	next := func() time.Duration {
		t.Helper()
		select {
		case d := <-sleeps:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("the slot did not back off within 10s")
		}
		return 0
	}
	for i, bound := range []time.Duration{100, 200, 400, 400} {
		bound *= time.Millisecond
		if d := next(); d < bound/2 || d > bound {
			t.Errorf("retry %d after %v, want %v..%v", i+1, d, bound/2, bound)
		}
		if i == 0 {
			// Run returned: the PSAM is not ready and the reason says why.
			wantSlotErr(t, "TerminalID with pcscd down", rg.s.Status().Err, sam.ErrNoSAM)
			if _, err := rg.s.TerminalID(context.Background()); err == nil || !strings.Contains(err.Error(), "fake pcscd") {
				t.Errorf("TerminalID with pcscd down: %v", err)
			}
		}
		if i == 3 {
			rg.f.SetUp(true)
		}
		release <- struct{}{}
	}
	rg.ready()
	if err := purchase(rg.s, false); err != nil {
		t.Fatalf("purchase after pcscd came back: %v", err)
	}
	if n := rg.f.Runs(); n != 5 {
		t.Errorf("%d runs of the reader, want 5 (the first, three while pcscd was down, the one that reconnected)", n)
	}
	for _, want := range []string{`msg="sam: PSAM reader failed, will retry"`, `msg="sam: PSAM reader restarting" reader="pcsc:Fake SAM Slot 00 00" attempt=5`} {
		if !strings.Contains(rg.logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// A wait for the PSAM that ends without one says why there is none: here
// the reader failing, not "no PSAM yet".
func TestPSAMSlotWaitSaysWhy(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{})
	rg.f.Seat(sim.NewDemoPSAM())
	rg.ready()
	rg.f.SetUp(false)
	rg.gone()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := rg.s.WaitReady(ctx)
	wantSlotErr(t, "WaitReady with pcscd down", err, sam.ErrNoSAM)
	if err == nil || !strings.Contains(err.Error(), "fake pcscd") {
		t.Errorf("WaitReady: %v, want the reader's failure", err)
	}
}

// A PSAM torn out during INIT SAM FOR PURCHASE is a slot fault (no PSAM),
// not the customer's card removed; during CREDIT SAM FOR PURCHASE it
// leaves the MAC2 unchecked, not bad. A purchase opened by a PSAM that was
// replaced is never checked by the new one.
func TestPSAMSlotInFlight(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{})
	ctx := context.Background()
	demo := sim.NewDemoPSAM()
	psam := &recorder{Presentable: demo}
	rg.f.Seat(psam)
	rg.ready()

	// Torn during INIT SAM FOR PURCHASE.
	if err := demo.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsInitSAMForPurchase}); err != nil {
		t.Fatal(err)
	}
	_, _, err := rg.s.InitPurchase(ctx, request(epurse.AlgDES))
	wantSlotErr(t, "PSAM torn during INIT SAM", err, sam.ErrNoSAM)
	rg.gone()
	rg.f.Seat(psam)
	rg.ready()

	// Torn after CREDIT SAM FOR PURCHASE executed: unchecked, not bad.
	if err := demo.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsCreditSAMForPurchase}); err != nil {
		t.Fatal(err)
	}
	wantSlotErr(t, "PSAM torn during CREDIT SAM", purchase(rg.s, false), sam.ErrNoSAM)
	rg.gone()

	// The PSAM goes between INIT and CREDIT, and comes back (reset): the
	// MAC2 is not sent to it.
	rg.f.Seat(psam)
	rg.ready()
	req := request(epurse.AlgDES)
	if _, _, err := rg.s.InitPurchase(ctx, req); err != nil {
		t.Fatal(err)
	}
	rg.f.Unseat()
	rg.gone()
	wantSlotErr(t, "VerifyMAC2 with the PSAM out", rg.s.VerifyMAC2(ctx, [4]byte{}), sam.ErrNoSAM)
	if _, _, err := rg.s.InitPurchase(ctx, req); err == nil {
		t.Fatal("InitPurchase with the PSAM out succeeded")
	}
	rg.f.Seat(psam)
	rg.ready()
	if _, _, err := rg.s.InitPurchase(ctx, req); err != nil {
		t.Fatal(err)
	}
	rg.f.Unseat()
	rg.gone()
	rg.f.Seat(psam)
	rg.ready()
	credits := psam.got(sim.InsCreditSAMForPurchase)
	wantSlotErr(t, "VerifyMAC2 on the re-seated PSAM", rg.s.VerifyMAC2(ctx, [4]byte{}), sam.ErrSessionLost)
	if psam.got(sim.InsCreditSAMForPurchase) != credits {
		t.Error("the MAC2 of a purchase the PSAM no longer holds was sent to it")
	}
	// VerifyMAC2 with no purchase opened: the PSAM says so (6985), a PSAM
	// fault, not a bad MAC2.
	wantSlotErr(t, "VerifyMAC2 without INIT", rg.s.VerifyMAC2(ctx, [4]byte{}), sam.ErrPSAMFault)
	// A status word of the PSAM is a PSAM fault, not the card refusing.
	req.KeyVersion = 9
	_, _, err = rg.s.InitPurchase(ctx, req)
	wantSlotErr(t, "unknown key version", err, sam.ErrPSAMFault)
	var pe *sam.PSAMError
	if errors.As(err, &pe) {
		if se := (*reader.StatusError)(nil); !errors.As(pe.Err, &se) || se.SW != reader.SWRefDataNotFound {
			t.Errorf("the cause %v does not keep the PSAM's status word", pe.Err)
		}
	}
	if err := purchase(rg.s, false); err != nil {
		t.Fatalf("the PSAM still sells: %v", err)
	}
}

// A PSAM whose connection broke while it stays seated (nothing reported)
// is reconnected by the slot itself.
func TestPSAMSlotBrokenConnection(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{})
	rg.f.Seat(sim.NewDemoPSAM())
	rg.ready()
	rg.f.Break()
	wantSlotErr(t, "InitPurchase on a broken connection", purchase(rg.s, false), sam.ErrNoSAM)
	rg.logs.WaitFor(t, `msg="sam: PSAM lost, reconnecting"`, 10*time.Second)
	rg.ready()
	if err := purchase(rg.s, false); err != nil {
		t.Fatalf("purchase after the reconnection: %v", err)
	}
	if rg.f.Runs() != 2 {
		t.Errorf("%d runs of the reader, want 2", rg.f.Runs())
	}
}

// A card in the slot that does not open as a PSAM is logged and not
// used; the slot waits for it to be replaced (no reconnection loop).
func TestPSAMSlotNotAPSAM(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{App: []byte{0xDF, 0x99}})
	rg.f.Seat(sim.NewDemoPSAM())
	rg.logs.WaitFor(t, `msg="sam: the card in the PSAM slot does not open as a PSAM"`, 10*time.Second)
	_, err := rg.s.TerminalID(context.Background())
	wantSlotErr(t, "TerminalID", err, sam.ErrNoSAM)
	if err == nil || !strings.Contains(err.Error(), "not a usable PSAM") || !strings.Contains(err.Error(), "6A82") {
		t.Errorf("error %v does not say why", err)
	}
	if rg.f.Runs() != 1 {
		t.Errorf("%d runs of the reader, want 1", rg.f.Runs())
	}
}

// A contactless card reported in the PSAM's reader (device.sam naming the
// customer's reader) is left alone: not one APDU reaches it.
func TestPSAMSlotLeavesContactlessCardsAlone(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{})
	student, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	card := &recorder{Presentable: student}
	rg.f.SeatTech(card, reader.TechISO14443A)
	rg.logs.WaitFor(t, `msg="sam: a contactless card was reported in the PSAM slot and left alone`, 10*time.Second)
	card.mu.Lock()
	n := len(card.cmds)
	card.mu.Unlock()
	if n != 0 {
		t.Errorf("%d commands sent to the customer's card", n)
	}
	_, err = rg.s.TerminalID(context.Background())
	wantSlotErr(t, "TerminalID", err, sam.ErrNoSAM)
	if err == nil || !strings.Contains(err.Error(), "not a PSAM slot") {
		t.Errorf("error %v does not say why", err)
	}
	// A PSAM seated in its place is used.
	rg.f.Seat(sim.NewDemoPSAM())
	rg.ready()
}

// Purchases and status reads race with removals and re-insertions: every
// call either works or fails with a slot error (run with -race). The POS
// makes one purchase at a time, as here.
func TestPSAMSlotConcurrent(t *testing.T) {
	rg := newSlotRig(t, sam.SlotOptions{})
	psam := sim.NewDemoPSAM()
	rg.f.Seat(psam)
	rg.ready()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(call func() error) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var pe *sam.PSAMError
				if err := call(); err != nil && !errors.As(err, &pe) {
					t.Errorf("%v", err)
					return
				}
			}
		})
	}
	loop(func() error { return purchase(rg.s, false) })
	loop(func() error {
		_, err := rg.s.TerminalID(context.Background())
		return err
	})
	loop(func() error { return rg.s.Status().Err })
	for range 20 {
		rg.f.Unseat()
		rg.gone()
		rg.f.Seat(psam)
		rg.ready()
	}
	close(stop)
	wg.Wait()
}

// PSAMError: errors.Is finds its kind only, never the cause's reader
// sentinels or status word, which stay reachable through errors.As.
func TestPSAMErrorMapping(t *testing.T) {
	removed := fmt.Errorf("sam: INIT SAM FOR PURCHASE: %w", reader.ErrCardRemoved)
	sw := fmt.Errorf("sam: %w", &reader.StatusError{SW: reader.SWRefDataNotFound, Cmd: "INIT SAM FOR PURCHASE"})
	for _, tc := range []struct {
		kind, cause error
		hidden      error // a sentinel of the cause that must not be found
		text        string
	}{
		{sam.ErrNoSAM, removed, reader.ErrCardRemoved, "sam: no PSAM in the slot (pcsc:X): INIT SAM FOR PURCHASE: reader: card removed"},
		{sam.ErrPSAMFault, sw, nil, "sam: PSAM fault (pcsc:X): reader: INIT SAM FOR PURCHASE: card answered 6A88 (referenced data not found)"},
		{sam.ErrSessionLost, errors.New("MAC1 came from PSAM #1"), nil, "sam: the PSAM that opened the purchase is gone (pcsc:X): MAC1 came from PSAM #1"},
		{sam.ErrNoSAM, nil, nil, "sam: no PSAM in the slot (pcsc:X)"},
	} {
		err := error(&sam.PSAMError{Kind: tc.kind, Reader: "pcsc:X", Err: tc.cause})
		if got := err.Error(); got != tc.text {
			t.Errorf("Error() = %q, want %q", got, tc.text)
		}
		wantSlotErr(t, tc.text, fmt.Errorf("epurse: purchase: %w", err), tc.kind)
		if tc.hidden != nil && errors.Is(err, tc.hidden) {
			t.Errorf("%v: the cause's sentinel is in the chain", err)
		}
		var pe *sam.PSAMError
		if !errors.As(fmt.Errorf("wrapped: %w", err), &pe) || pe.Err != tc.cause {
			t.Errorf("%v: the cause is not reachable with errors.As", err)
		}
	}
}
