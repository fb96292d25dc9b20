package gate_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
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
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// qrGate is a gate that takes campus QR codes, its store and its clock
// one fake clock, the campus issuer's key in its rules.
type qrGate struct {
	t      *testing.T
	ctx    context.Context
	clock  *offlinetest.Clock
	store  *offline.Store
	gate   *gate.Gate
	times  *timeouts
	issuer *protocol.Signer
}

const qrTestSkew = 30 * time.Second

func newQRGate(t *testing.T) *qrGate {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := protocol.NewSigner("campus-qr", protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	pk := issuer.PublicKey()
	rules := gateRules()
	rules.QRIssuers = []protocol.IssuerKey{{KeyID: "campus-qr", Alg: pk.Alg, Key: pk.Key}}

	clock := offlinetest.NewClock(testNow)
	store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "gate-qr-01", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	applySignedList(t, store, 1)
	fake, err := boardtest.New(board.Spec{
		Relays: []board.RelaySpec{{Name: "arm_in", MinPulse: 100 * time.Millisecond}},
		Inputs: []board.InputSpec{{Name: "pass_in"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Gate{Door: "dorm-3-east", Accept: []string{"qr"}, RelayIn: "arm_in",
		Pulse: config.Duration(300 * time.Millisecond), PassageWindow: config.Duration(5 * time.Second),
		PassageIn: "pass_in", QRSkew: config.Duration(qrTestSkew)}
	g := &qrGate{t: t, clock: clock, store: store, times: newTimeouts(), issuer: issuer}
	ctx, cancel := context.WithCancel(context.Background())
	g.ctx = ctx
	g.gate, err = gate.New(gate.Options{Store: store, Board: fake.Board, Display: uitest.New(), Config: cfg,
		Rules: func() *protocol.Rules { return rules }, VerifyQR: protocol.VerifyQRToken,
		After: g.times.After, Location: time.UTC, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.gate.Run(ctx) }()
	<-g.gate.Ready()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gate run: %v", err)
		}
		_ = fake.Board.Close()
		offlinetest.CheckAndClose(t, store)
	})
	return g
}

// token signs a campus QR token for a student, valid for a minute from
// issued.
func (g *qrGate) token(issued time.Time, nonce string) string {
	g.t.Helper()
	text, err := protocol.SignQRToken(g.issuer, protocol.QRClaims{Subject: "2024000101", Class: sim.ClassStudent,
		IssuedAt: issued.Unix(), Expires: issued.Add(time.Minute).Unix(), Nonce: []byte(nonce)})
	if err != nil {
		g.t.Fatal(err)
	}
	return text
}

// scan presents text on the QR reader. A granted pass opens the arm and
// waits for the passage: the window's timer is fired, and granted says so.
func (g *qrGate) scan(text string) (res gate.Result, granted bool) {
	g.t.Helper()
	out := make(chan gate.Result, 1)
	go func() {
		res, err := g.gate.HandleEvent(g.ctx, reader.Event{Reader: "qr", Kind: reader.TextCredential, Tech: reader.TechQR, Text: text})
		if err != nil {
			g.t.Errorf("HandleEvent: %v", err)
		}
		out <- res
	}()
	select {
	case res := <-out:
		return res, false
	case <-g.times.new:
		g.times.mu.Lock()
		ch := g.times.chs[len(g.times.chs)-1]
		g.times.mu.Unlock()
		ch <- time.Now()
	case <-time.After(10 * time.Second):
		g.t.Fatal("the gate neither decided nor opened")
	}
	select {
	case res := <-out:
		return res, true
	case <-time.After(10 * time.Second):
		g.t.Fatal("the gate did not end the pass")
	}
	return res, true
}

// TestGateQRReplayAfterClockCorrection: a campus QR code lets a student
// through; the clock jumps a day ahead, the housekeeping purges the QR
// nonces by it, the clock is corrected. The same code, still valid by the
// corrected clock, is refused as expired (and journaled so), not let
// through a second time.
func TestGateQRReplayAfterClockCorrection(t *testing.T) {
	g := newQRGate(t)
	text := g.token(testNow, "nonce-gate-0001")
	if res, granted := g.scan(text); !granted || res.Code != policy.CodeOK {
		t.Fatalf("first scan: %+v, granted %v; want the pass granted", res, granted)
	}
	if res, granted := g.scan(text); granted || res.Code != policy.CodeQRReplay {
		t.Fatalf("second scan: %+v, granted %v; want a replay refused", res, granted)
	}

	g.clock.Set(testNow.Add(24 * time.Hour))
	if n, err := g.store.PurgeNonces(g.clock.Now()); err != nil || n != 1 {
		t.Fatalf("housekeeping's purge a day ahead = %d, %v, want 1", n, err)
	}
	g.clock.Set(testNow.Add(20 * time.Second))

	res, granted := g.scan(text)
	if granted || res.Outcome != gate.Denied || res.Code != policy.CodeQRExpired {
		t.Fatalf("replay after the clock was corrected: %+v, granted %v; want denied %s", res, granted, policy.CodeQRExpired)
	}
	es, err := g.store.Records(res.Seq-1, 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("record %d: %v", res.Seq, err)
	}
	if r := es[0].Record; r.Kind != protocol.KindGateDenied || r.Reason != string(policy.CodeQRExpired) {
		t.Fatalf("journaled %v reason %q, want gate-denied %s", r.Kind, r.Reason, policy.CodeQRExpired)
	}
}
