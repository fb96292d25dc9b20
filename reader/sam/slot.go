package sam

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// DefaultSlotBackoff paces a Slot's restarts of its reader: 100 ms
// doubling to 5 s. A PSAM slot is local and cheap to retry, and a cashier
// who re-seats a PSAM or a technician who restarts pcscd expects the till
// back within seconds.
var DefaultSlotBackoff = reader.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// SlotOptions configure a Slot. The zero value works.
type SlotOptions struct {
	// App is the PSAM application to select (see NewCardSAM); nil means
	// DefaultApp.
	App []byte
	// Log receives the slot's story: PSAM ready (with its terminal id),
	// removed, lost, terminal id changed, reader failures and restarts.
	// Nil means slog.Default().
	Log *slog.Logger
	// Backoff paces the restarts of the reader; zero means
	// DefaultSlotBackoff.
	Backoff reader.Backoff
	// Sleep waits d or until ctx is done (returning its error); nil uses
	// reader.SleepContext. Tests inject one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the backoff's reset (a run that lasted a minute
	// starts afresh); nil means time.Now.
	Now func() time.Time
	// OpenTimeout bounds opening a PSAM the reader reported (SELECT MF,
	// READ BINARY 16, SELECT the application); zero means 5 s.
	OpenTimeout time.Duration
}

// Slot is a PSAM slot: the PSAM card in one reader (the contact SAM slot
// of a PC/SC reader), kept usable for the daemon's lifetime. It
// implements epurse.SAM.
//
// Run watches the reader, restarting its Run with backoff when it fails
// (pcscd died or restarted, the reader was unplugged, no reader matches
// yet). Each contact card the reader reports (a contactless one is left
// alone: it is a customer's card in a reader device.sam should not name)
// is opened as a CardSAM (SELECT MF,
// READ BINARY file 0x16 for the terminal id, SELECT the application);
// then the PSAM is ready. The slot drops it when the reader reports it
// removed, when the reader's Run ends (its cards go with it), and when a
// command fails on the transport (removed mid-command, reader or pcscd
// gone, no answer): then it also restarts the reader, which reports a
// PSAM still seated as a new card, so a PSAM whose connection broke is
// reconnected by itself. A re-seated PSAM is opened again, and one with
// another terminal id than before is logged as such: the terminal id goes
// into every purchase record from then on.
//
// While no PSAM is ready, TerminalID, InitPurchase and VerifyMAC2 fail at
// once with a *PSAMError of kind ErrNoSAM; the terminal shows that as a
// SAM fault. Errors never carry the reader's sentinels (see PSAMError).
//
// A purchase in flight when the PSAM goes away:
//
//   - during INIT SAM FOR PURCHASE: InitPurchase fails (ErrNoSAM). No
//     intent exists and the card was not debited; the PSAM may have used
//     a terminal sequence number, which leaves a harmless gap.
//   - after INIT SAM FOR PURCHASE (the card may be debited by then):
//     VerifyMAC2 fails with ErrSessionLost when the PSAM that opened the
//     purchase was removed, reconnected or replaced, and with ErrNoSAM
//     when none is ready or the PSAM is lost during CREDIT SAM FOR
//     PURCHASE. It never sends the MAC2 to a PSAM that did not compute
//     the MAC1 (that PSAM would refuse it), and none of these is
//     epurse.ErrMACInvalid: the card's MAC2 is unchecked, not bad. The
//     debit stands on the card's TAC, which the ledger verifies;
//     epurse.Purchase.Debit returns Done with MAC2Verified false.
//
// Only a PSAM that checked the MAC2 and refused it returns ErrMAC2.
type Slot struct {
	r    reader.Reader
	app  []byte
	log  *slog.Logger
	bo   reader.Backoff
	opts SlotOptions

	mu      sync.Mutex
	cur     *held         // the ready PSAM; nil when none
	gen     uint64        // PSAMs made ready so far
	session uint64        // gen of the PSAM that opened the purchase session; 0: none
	why     error         // why no PSAM is ready
	ready   chan struct{} // closed while a PSAM is ready
	kick    context.CancelCauseFunc
	lastTID [6]byte // terminal id of the last PSAM made ready
	haveTID bool
}

// held is a PSAM made ready.
type held struct {
	cs  *CardSAM
	gen uint64
	tid [6]byte
}

var _ epurse.SAM = (*Slot)(nil)

// Reasons why no PSAM is ready.
var (
	errNotSeen     = errors.New("no PSAM reported by the reader yet")
	errSlotStopped = errors.New("the PSAM slot stopped")
)

// NewSlot returns a slot over r, the reader of the PSAM. Start Run.
func NewSlot(r reader.Reader, opts SlotOptions) *Slot {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	bo := opts.Backoff
	if bo.Min <= 0 || bo.Max < bo.Min {
		bo = DefaultSlotBackoff
	}
	if opts.Sleep == nil {
		opts.Sleep = reader.SleepContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = 5 * time.Second
	}
	app := opts.App
	if app == nil {
		app = DefaultApp
	}
	return &Slot{r: r, app: append([]byte(nil), app...), log: log.With("reader", r.Name()), bo: bo, opts: opts,
		why: errNotSeen, ready: make(chan struct{})}
}

// Name returns the name of the slot's reader.
func (s *Slot) Name() string { return s.r.Name() }

// Run keeps the slot until ctx is done: it runs the reader, opens the
// PSAMs it reports and restarts it with backoff when it fails. Call it
// once. When it returns no PSAM is ready any more.
func (s *Slot) Run(ctx context.Context) {
	failures := 0
	for {
		began := s.opts.Now()
		readied, err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if readied || s.opts.Now().Sub(began) >= time.Minute {
			failures = 0
		}
		failures++
		d := s.delay(failures)
		s.log.Warn("sam: PSAM reader failed, will retry", "err", err, "failures", failures, "retry_in", d.Round(time.Millisecond))
		if s.opts.Sleep(ctx, d) != nil {
			s.drop(nil, errSlotStopped)
			return
		}
		s.log.Info("sam: PSAM reader restarting", "attempt", failures+1)
	}
}

// runOnce runs the reader once, handling its events, and returns whether a
// PSAM was made ready meanwhile and why the run ended (nil when ctx did).
// The PSAM of the run is dropped when it ends.
func (s *Slot) runOnce(ctx context.Context) (readied bool, err error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.kick = cancel
	s.mu.Unlock()
	events := make(chan reader.Event)
	errc := make(chan error, 1)
	go func() { errc <- s.r.Run(rctx, events) }()
	for {
		select {
		case e := <-events:
			if s.handle(rctx, e) {
				readied = true
			}
		case err = <-errc:
			s.mu.Lock()
			s.kick = nil
			s.mu.Unlock()
			switch {
			case ctx.Err() != nil:
				s.drop(nil, errSlotStopped)
				return readied, nil
			case rctx.Err() != nil:
				err = context.Cause(rctx) // the slot restarted it
			case err == nil:
				err = errors.New("reader stopped without error")
			}
			s.drop(nil, fmt.Errorf("the PSAM reader stopped: %w", err))
			return readied, err
		}
	}
}

// delay is the wait before restart number n (n ≥ 1): doubling from Min to
// Max, jittered into its upper half.
func (s *Slot) delay(n int) time.Duration {
	d := s.bo.Min
	for i := 1; i < n && d < s.bo.Max; i++ {
		d *= 2
	}
	d = min(d, s.bo.Max)
	return d/2 + rand.N(d/2+1)
}

// handle applies one event of the reader and reports whether a PSAM was
// made ready.
func (s *Slot) handle(ctx context.Context, e reader.Event) bool {
	switch e.Kind {
	case reader.CardPresent:
		if e.Card == nil {
			return false
		}
		if s.drop(nil, errors.New("another card was reported in the slot")) {
			s.log.Warn("sam: PSAM replaced without a removal")
		}
		if contactless(e.Tech) {
			// Opening it would send SELECTs to a customer's card in the
			// middle of its sale.
			s.drop(nil, fmt.Errorf("a contactless card (%s) was reported in %s, which is not a PSAM slot", e.Tech, e.Reader))
			s.log.Error("sam: a contactless card was reported in the PSAM slot and left alone: does device.sam name the customer's reader instead of the SAM slot?",
				"tech", e.Tech, "atr", hex.EncodeToString(e.ATR))
			return false
		}
		return s.open(ctx, e)
	case reader.CardRemoved:
		if s.drop(nil, fmt.Errorf("the PSAM was removed from %s", e.Reader)) {
			s.log.Warn("sam: PSAM removed: sales are refused (SAM fault) until it is back")
		}
	}
	return false
}

// contactless reports whether t is a card technology of an RF field: a
// PSAM is a contact card (or of a technology the reader cannot tell).
func contactless(t reader.Technology) bool {
	switch t {
	case reader.TechISO14443A, reader.TechISO14443B, reader.TechMifare:
		return true
	}
	return false
}

// open opens the PSAM of a CardPresent event and makes it ready.
func (s *Slot) open(ctx context.Context, e reader.Event) bool {
	cs := NewCardSAM(e.Card, s.app)
	octx, cancel := context.WithTimeout(ctx, s.opts.OpenTimeout)
	tid, err := cs.TerminalID(octx)
	cancel()
	if err != nil {
		s.mu.Lock()
		s.why = fmt.Errorf("the card in %s is not a usable PSAM: %w", e.Reader, err)
		s.mu.Unlock()
		s.log.Error("sam: the card in the PSAM slot does not open as a PSAM", "atr", hex.EncodeToString(e.ATR), "err", err)
		if lostConnection(ctx, err) {
			s.restart(err)
		}
		return false
	}
	s.mu.Lock()
	s.gen++
	h := &held{cs: cs, gen: s.gen, tid: tid}
	s.cur, s.why = h, nil
	close(s.ready)
	was, changed := s.lastTID, s.haveTID && s.lastTID != tid
	s.lastTID, s.haveTID = tid, true
	s.mu.Unlock()
	s.log.Info("sam: PSAM ready", "terminal_id", hex.EncodeToString(tid[:]), "atr", hex.EncodeToString(e.ATR))
	if changed {
		s.log.Warn("sam: PSAM terminal id changed: new purchase records carry the new one",
			"was", hex.EncodeToString(was[:]), "now", hex.EncodeToString(tid[:]))
	}
	return true
}

// drop forgets the ready PSAM with why and reports whether there was one.
// With h, it drops only h (a PSAM made ready since stays, and so does the
// reason). Without, it records why also when no PSAM was ready.
func (s *Slot) drop(h *held, why error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h != nil && s.cur != h {
		return false
	}
	if s.cur == nil {
		s.why = why
		return false
	}
	s.cur, s.why = nil, why
	s.ready = make(chan struct{})
	return true
}

// restart ends the reader's current run with cause (Run starts it again
// after the backoff).
func (s *Slot) restart(cause error) {
	s.mu.Lock()
	kick := s.kick
	s.mu.Unlock()
	if kick != nil {
		kick(fmt.Errorf("the PSAM's connection failed: %w", cause))
	}
}

// lostConnection reports whether err of a PSAM command means that the
// PSAM's connection is gone (removed, reader or pcscd failure, no answer)
// rather than a PSAM that answered, or a caller that gave up.
func lostConnection(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, reader.ErrCardRemoved) || errors.Is(err, reader.ErrTransport) || errors.Is(err, reader.ErrTimeout)
}

// get returns the ready PSAM or the ErrNoSAM error.
func (s *Slot) get() (*held, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil, &PSAMError{Kind: ErrNoSAM, Reader: s.r.Name(), Err: s.why}
	}
	return s.cur, nil
}

// fail turns err of a command on h into the slot's error. A lost
// connection drops h and restarts the reader.
func (s *Slot) fail(ctx context.Context, h *held, err error) error {
	if !lostConnection(ctx, err) {
		return &PSAMError{Kind: ErrPSAMFault, Reader: s.r.Name(), Err: err}
	}
	if s.drop(h, fmt.Errorf("the PSAM's connection failed: %w", err)) {
		s.log.Warn("sam: PSAM lost, reconnecting", "err", err)
		s.restart(err)
	}
	return &PSAMError{Kind: ErrNoSAM, Reader: s.r.Name(), Err: err}
}

// TerminalID returns the terminal id of the ready PSAM (read when it was
// opened), or fails at once with ErrNoSAM.
func (s *Slot) TerminalID(context.Context) ([6]byte, error) {
	h, err := s.get()
	if err != nil {
		return [6]byte{}, err
	}
	return h.tid, nil
}

// InitPurchase sends INIT SAM FOR PURCHASE to the ready PSAM, which opens
// the purchase session VerifyMAC2 closes. Without a ready PSAM it fails at
// once with ErrNoSAM.
func (s *Slot) InitPurchase(ctx context.Context, req epurse.SAMPurchaseRequest) (uint32, [4]byte, error) {
	s.mu.Lock()
	s.session = 0 // a PSAM keeps one session: INIT replaces it
	s.mu.Unlock()
	h, err := s.get()
	if err != nil {
		return 0, [4]byte{}, err
	}
	seq, mac1, err := h.cs.InitPurchase(ctx, req)
	if err != nil {
		return 0, [4]byte{}, s.fail(ctx, h, err)
	}
	s.mu.Lock()
	s.session = h.gen
	s.mu.Unlock()
	return seq, mac1, nil
}

// VerifyMAC2 sends CREDIT SAM FOR PURCHASE to the PSAM that opened the
// purchase. ErrMAC2 means that PSAM refused the MAC2; ErrSessionLost and
// ErrNoSAM that it was not checked (see Slot).
func (s *Slot) VerifyMAC2(ctx context.Context, mac2 [4]byte) error {
	s.mu.Lock()
	sess := s.session
	s.session = 0
	s.mu.Unlock()
	h, err := s.get()
	if err != nil {
		return err
	}
	if sess != 0 && sess != h.gen {
		return &PSAMError{Kind: ErrSessionLost, Reader: s.r.Name(),
			Err: fmt.Errorf("MAC1 came from PSAM #%d, the slot now holds #%d: MAC2 not checked", sess, h.gen)}
	}
	err = h.cs.VerifyMAC2(ctx, mac2)
	if err == nil || errors.Is(err, ErrMAC2) {
		return err
	}
	return s.fail(ctx, h, err)
}

// WaitReady waits until a PSAM is ready, or returns the ErrNoSAM error
// (with why none is) when ctx ends first.
func (s *Slot) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		ok, ch := s.cur != nil, s.ready
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			_, err := s.get()
			return err
		}
	}
}

// SlotStatus is a snapshot of a Slot for health reports.
type SlotStatus struct {
	Ready      bool
	TerminalID [6]byte // of the ready PSAM, or of the last one when none is
	HaveID     bool    // TerminalID is known
	Err        error   // why no PSAM is ready; nil when one is
}

// Status returns the slot's state now.
func (s *Slot) Status() SlotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SlotStatus{Ready: s.cur != nil, TerminalID: s.lastTID, HaveID: s.haveTID}
	if s.cur == nil {
		st.Err = &PSAMError{Kind: ErrNoSAM, Reader: s.r.Name(), Err: s.why}
	}
	return st
}
