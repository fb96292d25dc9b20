package gate_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/gate"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// timeouts is the gate's timer source: tests fire the passage window by hand.
type timeouts struct {
	mu  sync.Mutex
	chs []chan time.Time
	new chan struct{}
}

func newTimeouts() *timeouts { return &timeouts{new: make(chan struct{}, 16)} }

func (t *timeouts) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	t.mu.Lock()
	t.chs = append(t.chs, ch)
	t.mu.Unlock()
	t.new <- struct{}{}
	return ch
}

// fireNext waits for the next timer the gate starts and fires it.
func (t *timeouts) fireNext(tb testing.TB) {
	tb.Helper()
	select {
	case <-t.new:
	case <-time.After(10 * time.Second):
		tb.Fatal("the gate started no timer")
	}
	t.mu.Lock()
	ch := t.chs[len(t.chs)-1]
	t.mu.Unlock()
	ch <- time.Now()
}

type gateRig struct {
	t      *testing.T
	ctx    context.Context
	store  *offline.Store
	fake   *boardtest.Fake
	disp   *uitest.Sim
	times  *timeouts
	gate   *gate.Gate
	rules  *protocol.Rules
	rdrIn  *sim.Reader
	events chan reader.Event
	// base is the journal head after the rig's setup (its signed status
	// list): kinds counts what the test did after it.
	base uint64
}

// newGateRig is a gate holding a signed, empty status list: a gate passes
// no card before it holds one (newGateRigNoList).
func newGateRig(t *testing.T) *gateRig {
	t.Helper()
	return newGateRigWith(t, true, nil)
}

// newGateRigNoList is a gate that never received a status list.
func newGateRigNoList(t *testing.T) *gateRig {
	t.Helper()
	return newGateRigWith(t, false, nil)
}

// newGateRigWith is a gate holding a signed empty list or none, with the
// holds given (nil: its own).
func newGateRigWith(t *testing.T, list bool, holds *hold.Holds) *gateRig {
	t.Helper()
	store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "gate-test-01", Clock: offlinetest.NewClock(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	fake, err := boardtest.New(board.Spec{
		Relays: []board.RelaySpec{{Name: "arm_in", MinPulse: 100 * time.Millisecond}, {Name: "arm_out", MinPulse: 100 * time.Millisecond}},
		Inputs: []board.InputSpec{{Name: "pass_in"}, {Name: "pass_out"}, {Name: "fire"}, {Name: "door"}, {Name: "tamper"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &gateRig{t: t, ctx: ctx, store: store, fake: fake, disp: uitest.New(), times: newTimeouts(), rules: gateRules(),
		rdrIn: sim.NewReader("in", reader.TechISO14443A), events: make(chan reader.Event, 8)}
	if list {
		r.base = applySignedList(t, store, 1)
	}
	cfg := config.Gate{Door: "dorm-3-east", Accept: []string{"card", "qr"}, RelayIn: "arm_in", RelayOut: "arm_out",
		ReadersOut: []string{"out"}, Pulse: config.Duration(300 * time.Millisecond),
		PassageWindow: config.Duration(5 * time.Second), PassageIn: "pass_in", PassageOut: "pass_out",
		FireAlarm: "fire", DoorContact: "door", Tamper: "tamper", HeldOpen: config.Duration(30 * time.Second)}
	now := testNow
	var nowMu sync.Mutex
	r.gate, err = gate.New(gate.Options{Store: store, Board: fake.Board, Display: r.disp, Config: cfg,
		Rules: func() *protocol.Rules { return r.rules }, After: r.times.After, Location: time.UTC, Holds: holds,
		Now: func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); now = now.Add(time.Second); return now }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.gate.Run(ctx) }()
	<-r.gate.Ready()
	go func() { _ = r.rdrIn.Run(ctx, r.events) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gate run: %v", err)
		}
		_ = fake.Board.Close()
		offlinetest.CheckAndClose(t, store)
	})
	return r
}

// present taps card on the entry reader and returns its CardPresent event.
func (r *gateRig) present(card *sim.Card) reader.Event {
	r.t.Helper()
	r.rdrIn.Tap(card)
	for {
		select {
		case e := <-r.events:
			if e.Kind == reader.CardPresent {
				return e
			}
		case <-time.After(10 * time.Second):
			r.t.Fatal("no CardPresent")
		}
	}
}

// handleAsync runs a credential through the gate in the background.
func (r *gateRig) handleAsync(ev reader.Event) <-chan gate.Result {
	out := make(chan gate.Result, 1)
	go func() {
		res, err := r.gate.HandleEvent(r.ctx, ev)
		if err != nil {
			r.t.Errorf("HandleEvent: %v", err)
		}
		out <- res
	}()
	return out
}

// awaitRelay waits until the relay is energised.
func (r *gateRig) awaitRelay(name string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !r.fake.High(name) {
		if time.Now().After(deadline) {
			r.t.Fatalf("relay %s never energised", name)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *gateRig) result(ch <-chan gate.Result) gate.Result {
	r.t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(10 * time.Second):
		r.t.Fatal("gate did not decide")
	}
	return gate.Result{}
}

// kinds returns the kinds of the records journaled after the rig's setup,
// in order.
func (r *gateRig) kinds() []protocol.Kind {
	r.t.Helper()
	es, err := r.store.Records(r.base, 100)
	if err != nil {
		r.t.Fatal(err)
	}
	var ks []protocol.Kind
	for _, e := range es {
		ks = append(ks, e.Record.Kind)
	}
	return ks
}

func (r *gateRig) lastRecord() protocol.Record {
	r.t.Helper()
	es, err := r.store.Records(0, 100)
	if err != nil || len(es) == 0 {
		r.t.Fatalf("records: %v (%d)", err, len(es))
	}
	return es[len(es)-1].Record
}

func (r *gateRig) setInput(name string, active bool) {
	r.t.Helper()
	if err := r.fake.SetInput(name, active); err != nil {
		r.t.Fatal(err)
	}
}

// awaitKinds waits until the journal holds n records.
func (r *gateRig) awaitRecords(n int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.kinds()) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("journal has %v, want %d records", r.kinds(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// insRecorder remembers the instruction byte of every APDU sent to a card.
type insRecorder struct {
	reader.Card
	mu  sync.Mutex
	ins []byte
}

func (c *insRecorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	if len(cmd) > 1 {
		c.ins = append(c.ins, cmd[1])
	}
	c.mu.Unlock()
	return c.Card.Transmit(ctx, cmd)
}

func TestGatePassWithPassage(t *testing.T) {
	r := newGateRig(t)
	card := demoCard(t, "student", "", 0)
	ev := r.present(card)
	apdus := &insRecorder{Card: ev.Card}
	ev.Card = apdus
	ch := r.handleAsync(ev)
	r.awaitRelay("arm_in")
	if r.fake.High("arm_out") {
		t.Fatal("the exit arm moved for an entry")
	}
	r.setInput("pass_in", true)
	res := r.result(ch)
	if res.Outcome != gate.Passed || res.Code != policy.CodeOK || res.ID != sim.DemoStudentNo || res.Direction != policy.In {
		t.Fatalf("result = %+v", res)
	}
	rec := r.lastRecord()
	if rec.Kind != protocol.KindGatePass || rec.CardNo != sim.DemoStudentNo || rec.Credential != "card" || rec.Reason != "in" {
		t.Fatalf("journal = %+v", rec)
	}
	if m, _ := r.disp.Last(); m.Code != ui.CodePass {
		t.Fatalf("display = %v", m)
	}
	apdus.mu.Lock()
	for _, ins := range apdus.ins {
		if ins == 0x5C { // GET BALANCE: a gate has no use for the balance
			t.Errorf("the gate read the balance: %X", apdus.ins)
		}
	}
	apdus.mu.Unlock()

	// The same card again the same way: anti-passback refuses it, and no
	// arm moves.
	r.setInput("pass_in", false)
	before := len(r.fake.Changes("arm_in"))
	res = r.result(r.handleAsync(r.present(card)))
	if res.Outcome != gate.Denied || res.Code != policy.CodeAntiPassback {
		t.Fatalf("second pass = %+v", res)
	}
	if len(r.fake.Changes("arm_in")) != before {
		t.Fatal("arm moved for a refused pass")
	}
	if rec := r.lastRecord(); rec.Kind != protocol.KindGateDenied || rec.Reason != string(policy.CodeAntiPassback) {
		t.Fatalf("journal = %+v", rec)
	}
}

func TestGatePassNotTakenDoesNotAdvanceAntiPassback(t *testing.T) {
	r := newGateRig(t)
	card := demoCard(t, "student", "", 0)
	ch := r.handleAsync(r.present(card))
	r.awaitRelay("arm_in")
	r.times.fireNext(t) // the passage window ends with nobody through
	res := r.result(ch)
	if res.Outcome != gate.NotTaken {
		t.Fatalf("result = %+v", res)
	}
	if rec := r.lastRecord(); rec.Kind != protocol.KindGatePassNotTaken || rec.CardNo != sim.DemoStudentNo {
		t.Fatalf("journal = %+v", rec)
	}
	// Not taken: the holder may try again at once.
	ch = r.handleAsync(r.present(card))
	r.times.fireNext(t)
	if res := r.result(ch); res.Outcome != gate.NotTaken {
		t.Fatalf("retry = %+v, want granted again (then not taken)", res)
	}
}

func TestGateDenials(t *testing.T) {
	for _, tc := range []struct {
		name  string
		card  string
		setup func(r *gateRig)
		want  policy.Code
	}{
		{"lost card", "lost", func(r *gateRig) {
			if err := r.store.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: []offline.StatusEntry{
				{CardNo: sim.DemoLostNo, Reason: offline.ReasonLost, Since: testNow.Add(-time.Hour)}}}); err != nil {
				r.t.Fatal(err)
			}
		}, policy.CodeLost},
		{"expired card", "expired", nil, policy.CodeExpired},
		{"no rules held: fail closed", "student", func(r *gateRig) { r.rules = nil }, policy.CodeNoRules},
		{"door missing from rules: fail closed", "student", func(r *gateRig) {
			r.rules = gateRules()
			r.rules.Doors = nil
		}, policy.CodeRuleMissing},
		{"class not in any group", "staff", func(r *gateRig) {
			r.rules = gateRules()
			r.rules.Groups[0].Classes = []uint8{sim.ClassStudent}
		}, policy.CodeNoAccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newGateRig(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			res := r.result(r.handleAsync(r.present(demoCard(t, tc.card, "", 0))))
			if res.Outcome != gate.Denied || res.Code != tc.want {
				t.Fatalf("result = %+v, want denied %s", res, tc.want)
			}
			if r.fake.High("arm_in") || len(r.fake.Changes("arm_in")) > 1 {
				t.Fatalf("arm moved: %+v", r.fake.Changes("arm_in"))
			}
			if rec := r.lastRecord(); rec.Kind != protocol.KindGateDenied || rec.Reason != string(tc.want) {
				t.Fatalf("journal = %+v", rec)
			}
			if m, _ := r.disp.Last(); m.Code != ui.Code(tc.want) || m.ZH == "" || m.EN == "" {
				t.Fatalf("display = %+v", m)
			}
		})
	}
}

func TestGateFireAlarmReleasesEveryLane(t *testing.T) {
	r := newGateRig(t)
	r.setInput("fire", true)
	r.awaitRelay("arm_in")
	r.awaitRelay("arm_out")
	r.awaitRecords(1)
	if rec := r.lastRecord(); rec.Kind != protocol.KindAlarm || rec.Reason != gate.AlarmFireOn {
		t.Fatalf("journal = %+v", rec)
	}
	// Even a lost card passes during the alarm: people must get out.
	r.rules = nil
	res := r.result(r.handleAsync(r.present(demoCard(t, "lost", "", 0))))
	if res.Outcome != gate.Passed || res.Code != policy.CodeEmergency {
		t.Fatalf("result = %+v", res)
	}
	r.setInput("fire", false)
	r.awaitRecords(3)
	if rec := r.lastRecord(); rec.Kind != protocol.KindAlarm || rec.Reason != gate.AlarmFireOff {
		t.Fatalf("journal = %+v", rec)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.fake.High("arm_in") || r.fake.High("arm_out") {
		if time.Now().After(deadline) {
			t.Fatal("lanes not back to their safe state after the alarm")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGateDoorAlarms(t *testing.T) {
	r := newGateRig(t)
	r.setInput("door", true) // opened with no pass granted
	r.awaitRecords(1)
	if rec := r.lastRecord(); rec.Reason != gate.AlarmForcedOpen {
		t.Fatalf("journal = %+v", rec)
	}
	r.times.fireNext(t) // still open after held_open
	r.awaitRecords(2)
	if rec := r.lastRecord(); rec.Reason != gate.AlarmHeldOpen {
		t.Fatalf("journal = %+v", rec)
	}
	r.setInput("tamper", true)
	r.awaitRecords(3)
	if rec := r.lastRecord(); rec.Kind != protocol.KindAlarm || rec.Reason != gate.AlarmTamper {
		t.Fatalf("journal = %+v", rec)
	}
}
