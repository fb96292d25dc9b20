package kiosk_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/load"
)

// The holder of the self-service tests: an account with a PIN and a
// national ID number at the ledger, and a strict virtual card issued with
// the test keys (its daily limit 200.00 yuan in file 0x12).
const (
	holderAcct = "H2026001"
	holderCard = "10012026090100000101"
	holderPIN  = "739164"
	holderID   = "11010519491231002X"
	holderDay  = 20000
)

// holder adds the holder's account at the ledger and issues the card.
func (r *rig) holder() *sim.Card {
	r.t.Helper()
	if _, err := r.ledger.AddAccount(ledger.AccountParams{ID: holderAcct, Card: holderCard, ValidUntil: "20300831",
		PIN: holderPIN, NationalID: holderID}); err != nil {
		r.t.Fatal(err)
	}
	p := sim.Profile{CardNo: holderCard, Issuer: sim.DemoIssuer, Class: sim.ClassStudent, Start: "20260901", Expiry: "20300831",
		Algorithm: epurse.AlgDES, KeyVersion: 1, KeyIndex: 1, PIN: holderPIN, StatusListVersion: 1, DailyLimit: holderDay}
	c, err := sim.NewCard(p, sam.TestKeys().Keys[1], 10000)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// svcSessions are sessions offering the self-service, their card writes
// kept in the rig's store.
func (r *rig) svcSessions() (*kiosk.Sessions, *cardwrite.Engine) {
	r.t.Helper()
	return r.svcSessionsLog(quiet())
}

// svcSessionsLog is svcSessions logging to log.
func (r *rig) svcSessionsLog(log *slog.Logger) (*kiosk.Sessions, *cardwrite.Engine) {
	r.t.Helper()
	cw, err := cardwrite.New(cardwrite.Options{Store: cardwrite.OfflineStore{S: r.store}, Ledger: r.client, Logger: log})
	if err != nil {
		r.t.Fatal(err)
	}
	auto := false
	cfg := r.cfg
	cfg.AutoClaim = &auto
	cfg.SessionTimeout = config.Duration(time.Minute)
	s, err := kiosk.NewSessions(kiosk.SessionOptions{Kiosk: r.kiosk, Bank: r.client, Display: r.ui, Config: cfg,
		Now: r.clock.Now, Logger: log, Services: r.client, Writes: cw})
	if err != nil {
		r.t.Fatal(err)
	}
	return s, cw
}

// open taps card and opens its session.
func open(t *testing.T, r *rig, s *kiosk.Sessions, card *sim.Card) (string, kiosk.Step) {
	t.Helper()
	st := s.Open(r.ctx, "sim:kiosk", r.tap(card))
	v := s.Current()
	if v.State != "card" {
		t.Fatalf("no session: %+v %+v", st, v)
	}
	return v.ID, st
}

// campus reads the card's file 0x12 and 0x15 straight from the card.
func campus(t *testing.T, c *sim.Card) (epurse.CampusData, epurse.PublicData) {
	t.Helper()
	c.Reset()
	io := simIO{c}
	if _, err := epurse.Select(context.Background(), io, sim.DefaultAID); err != nil && !errors.Is(err, epurse.ErrAppBlocked) {
		t.Fatal(err)
	}
	cd, err := epurse.ReadCampusData(context.Background(), io)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := epurse.ReadPublicData(context.Background(), io)
	if err != nil {
		t.Fatal(err)
	}
	return cd, pub
}

type simIO struct{ c *sim.Card }

func (s simIO) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return s.c.Respond(cmd) }

// account is the holder's account at the ledger.
func (r *rig) account() ledger.AccountReport {
	r.t.Helper()
	rep, err := r.ledger.ShowAccount(holderAcct)
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// pending is the card's pending writes at the ledger.
func (r *rig) pending(t *testing.T) []ledger.CardWrite {
	t.Helper()
	ws, err := r.ledger.PendingWrites(holderCard)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestServiceSetLimit (调整限额): a wrong PIN is counted by the card and
// changes nothing; the right one writes the limit into file 0x12 (the
// daily limit kept) under the ledger's MAC, and the ledger's limit follows
// only with the card's read-back.
func TestServiceSetLimit(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	s, _ := r.svcSessions()
	id, _ := open(t, r, s, card)

	before := r.account().Account.TxLimit
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: "000000", TxLimit: 3300})
	if err != nil || st.Code != kiosk.CodeWrongPIN || st.TriesLeft != 2 {
		t.Fatalf("wrong PIN: %+v %v", st, err)
	}
	if a := r.account(); a.Account.TxLimit != before || len(r.pending(t)) != 0 {
		t.Fatalf("a wrong PIN changed the account: %+v", a.Account)
	}
	if cd, _ := campus(t, card); cd.TxnLimit != 0 {
		t.Fatalf("a wrong PIN wrote the card: %+v", cd)
	}
	id, _ = open(t, r, s, card)
	st, err = s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: holderPIN, TxLimit: 3300})
	if err != nil || st.Code != kiosk.CodeLimitSet || len(st.Writes) != 1 || st.Writes[0].Outcome != "written" || !st.Writes[0].Acked {
		t.Fatalf("set limit: %+v %v", st, err)
	}
	if !strings.Contains(st.Message.ZH, "限额已调整") || st.Message.EN != "Limit changed" {
		t.Errorf("screen %+v", st.Message)
	}
	cd, _ := campus(t, card)
	if cd.TxnLimit != 3300 || cd.DailyLimit != holderDay {
		t.Fatalf("file 0x12 after: %+v", cd)
	}
	if a := r.account(); a.Account.TxLimit != 3300 || len(r.pending(t)) != 0 {
		t.Fatalf("the ledger after: limit %d, pending %+v", a.Account.TxLimit, r.pending(t))
	}
	// The journal: the trade (service) and the card's write (card-write)
	// as evidence; the refused PIN never reached the ledger.
	h, err := r.store.Head()
	if err != nil {
		t.Fatal(err)
	}
	es, err := r.store.Records(0, int(h.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		switch e.Record.Kind {
		case protocol.KindService, protocol.KindCardWrite:
			got = append(got, e.Record.Kind.String()+":"+e.Record.Trade+":"+e.Record.Reason+":"+e.Record.CardNo)
		}
	}
	if want := []string{"service:set-limit::" + holderCard, "card-write:set-limit:written:" + holderCard}; !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
}

// TestServiceLossAndUnfreeze (挂失, 解挂): the holder reports the card lost
// by number and PIN without the card; then, with the card, a wrong ID
// number is refused with the tries left; the right one unlists the card at
// the ledger and stamps the status-list version into file 0x12.
func TestServiceLossAndUnfreeze(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	s, _ := r.svcSessions()

	if st, err := s.ReportLoss(r.ctx, holderAcct, "111111"); err != nil || st.Code != load.CodeHolderPINWrong {
		t.Fatalf("report loss with a wrong PIN: %+v %v", st, err)
	}
	st, err := s.ReportLoss(r.ctx, holderAcct, holderPIN)
	if err != nil || st.Code != kiosk.CodeLossReported || st.CardNo != holderCard {
		t.Fatalf("report loss: %+v %v", st, err)
	}
	listed := func() bool {
		ans, err := r.ledger.Status(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ans.Entries {
			if e.CardNo == holderCard {
				return true
			}
		}
		return false
	}
	if !listed() {
		t.Fatal("the lost card is not on the status list")
	}

	id, _ := open(t, r, s, card)
	st, err = s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeUnfreeze, PIN: holderPIN, NationalID: "110105194912310021"})
	if err != nil || st.Code != load.CodeIDWrong || st.TriesLeft != 4 || !strings.Contains(st.Message.ZH, "还可尝试4次") {
		t.Fatalf("wrong ID number: %+v %v", st, err)
	}
	st, err = s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeUnfreeze, PIN: holderPIN, NationalID: strings.ToLower(holderID)})
	if err != nil || st.Code != kiosk.CodeUnfrozen || len(st.Writes) != 1 || st.Writes[0].Outcome != "written" {
		t.Fatalf("unfreeze: %+v %v", st, err)
	}
	if listed() {
		t.Fatal("the unfrozen card is still listed")
	}
	ans, err := r.ledger.Status(0)
	if err != nil {
		t.Fatal(err)
	}
	cd, pub := campus(t, card)
	if cd.StatusListVersion == 0 || cd.StatusListVersion > ans.Version || pub.Status != epurse.CardStatusNormal {
		t.Fatalf("card after 解挂: campus %+v status %02X, list version %d", cd, pub.Status, ans.Version)
	}
}

// TestServiceUnfreezeBlockedCard: a card whose application a terminal
// blocked (and whose status byte it set) is unblocked and its status set
// back by the 解挂, each command under the ledger's MAC.
func TestServiceUnfreezeBlockedCard(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	s, _ := r.svcSessions()
	// A terminal locked the card: status byte 03 and the application
	// blocked, with the issuer's keys (a desk's PSAM would hold them).
	ks := keys.NewSoftware(ledgertest.TestIssuerKeys())
	io := simIO{card}
	if _, err := epurse.Select(r.ctx, io, sim.DefaultAID); err != nil {
		t.Fatal(err)
	}
	pub, _ := epurse.ReadPublicData(r.ctx, io)
	ref := epurse.CardRef{Serial: pub.Factor(), KeyVersion: 1}
	if o := epurse.UpdateBinary(r.ctx, io, ks, ref, epurse.CardStatusWrite(0x03)); o.Kind != epurse.Done {
		t.Fatal(o.Err)
	}
	if o := epurse.BlockApplication(r.ctx, io, ks, ref, false); o.Kind != epurse.Done {
		t.Fatal(o.Err)
	}
	if st, err := s.ReportLoss(r.ctx, holderAcct, holderPIN); err != nil || st.Code != kiosk.CodeLossReported {
		t.Fatalf("report loss: %+v %v", st, err)
	}
	id, _ := open(t, r, s, card)
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeUnfreeze, PIN: holderPIN, NationalID: holderID})
	if err != nil || st.Code != kiosk.CodeUnfrozen {
		t.Fatalf("unfreeze of a blocked card: %+v %v", st, err)
	}
	cd, pub := campus(t, card)
	if pub.Status != epurse.CardStatusNormal || cd.StatusListVersion == 0 {
		t.Fatalf("after: status %02X campus %+v", pub.Status, cd)
	}
	card.Reset()
	if _, err := epurse.Select(r.ctx, io, sim.DefaultAID); err != nil {
		t.Fatalf("the application is still blocked: %v", err)
	}
}

// TestServiceChangePIN (修改密码): the card's CHANGE PIN and the ledger's
// verification value change together: afterwards only the new PIN opens
// a service, on the card and at the ledger.
func TestServiceChangePIN(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	s, _ := r.svcSessions()
	id, _ := open(t, r, s, card)
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeChangePIN, PIN: holderPIN, NewPIN: "246802"})
	if err != nil || st.Code != kiosk.CodePINChanged || len(st.Writes) != 1 || st.Writes[0].Outcome != "written" {
		t.Fatalf("change PIN: %+v %v", st, err)
	}
	st, err = s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeStatement, PIN: "246802"})
	if err != nil || st.Code != kiosk.CodeStatement || st.Statement == nil || st.Statement.Account != holderAcct {
		t.Fatalf("statement with the new PIN: %+v %v", st, err)
	}
	if st, _ := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeStatement, PIN: holderPIN}); st.Code != kiosk.CodeWrongPIN {
		t.Fatalf("the old PIN on the card: %+v", st)
	}
}

// TestServiceRefusals: the ledger unreachable, an expired account, a
// locked card PIN: each with its code and both languages; nothing
// pending.
func TestServiceRefusals(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	s, _ := r.svcSessions()
	id, _ := open(t, r, s, card)
	r.down.Store(true)
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: holderPIN, TxLimit: 100})
	if err != nil || st.Code != load.CodeLedgerOffline || st.Message.ZH == "" || st.Message.EN == "" {
		t.Fatalf("ledger down: %+v %v", st, err)
	}
	r.down.Store(false)
	if _, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: "12", TxLimit: 100}); !errors.Is(err, kiosk.ErrBadRequest) {
		t.Fatalf("a 2-digit PIN: %v", err)
	}
	for i := 0; i < 3; i++ {
		st, _ = s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: "000000", TxLimit: 100})
	}
	if st.Code != kiosk.CodePINLocked || !strings.Contains(st.Message.ZH, "锁定") {
		t.Fatalf("third wrong PIN: %+v", st)
	}
	if len(r.pending(t)) != 0 {
		t.Fatalf("refusals left writes: %+v", r.pending(t))
	}
}

// TestServiceWriteTearMatrix: the set-limit write torn before and after
// each of its APDUs (GET CHALLENGE, UPDATE BINARY, the read-back): the
// step says so or completes; the card's next tap completes it (补写);
// afterwards the card and the ledger agree and nothing is pending.
func TestServiceWriteTearMatrix(t *testing.T) {
	for name, ins := range map[string]byte{"get-challenge": sim.InsGetChallenge, "update-binary": sim.InsUpdateBinary, "read-back": sim.InsReadBinary} {
		for _, kind := range []sim.FaultKind{sim.TearBefore, sim.TearAfter} {
			t.Run(string(kind)+"-"+name, func(t *testing.T) {
				r := newRig(t)
				card := r.holder()
				s, _ := r.svcSessions()
				id, _ := open(t, r, s, card)
				// The step reads files 0x15 and 0x12 (two READ BINARYs)
				// before the write: the read-back is the third.
				nth := 1
				if ins == sim.InsReadBinary {
					nth = 3
				}
				if err := card.Arm(sim.Fault{Kind: kind, INS: ins, Nth: nth}); err != nil {
					t.Fatal(err)
				}
				st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: holderPIN, TxLimit: 7700})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("step: %s %+v", st.Code, st.Writes)
				card.ClearFaults()
				r.rdr.Remove()
				s.Close(r.ctx, "", "card removed")
				if st.Code == kiosk.CodeWriteTorn {
					if ws := r.pending(t); len(ws) != 1 {
						t.Fatalf("torn write not pending: %+v", ws)
					}
					_, op := open(t, r, s, card)
					if len(op.Writes) != 1 || op.Writes[0].Outcome != "written" {
						t.Fatalf("补写 at the next tap: %+v", op)
					}
				} else if st.Code != kiosk.CodeLimitSet {
					t.Fatalf("step %+v", st)
				}
				cd, _ := campus(t, card)
				if a := r.account(); cd.TxnLimit != 7700 || a.Account.TxLimit != 7700 || len(r.pending(t)) != 0 {
					t.Fatalf("card %d, ledger %d, pending %+v", cd.TxnLimit, a.Account.TxLimit, r.pending(t))
				}
			})
		}
	}
}

// TestServiceNoSecrets: after every service with a PIN and an ID number,
// neither is in the store's file, the journal or the log.
func TestServiceNoSecrets(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	logs := &testbuf.Buffer{}
	s, _ := r.svcSessionsLog(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if _, err := s.ReportLoss(r.ctx, holderAcct, holderPIN); err != nil {
		t.Fatal(err)
	}
	id, _ := open(t, r, s, card)
	for _, in := range []kiosk.ServiceInput{
		{Trade: protocol.TradeUnfreeze, PIN: holderPIN, NationalID: holderID},
		{Trade: protocol.TradeSetLimit, PIN: holderPIN, TxLimit: 3000},
		{Trade: protocol.TradeChangePIN, PIN: holderPIN, NewPIN: "864209"},
	} {
		if _, err := s.Service(r.ctx, id, in); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile(r.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{holderPIN, "864209", holderID, strings.ToLower(holderID)} {
		if bytes.Contains(file, []byte(secret)) {
			t.Errorf("%q is in the store file", secret)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%q is in the log", secret)
		}
	}
}

// cutStore is the store with the power cut at one of its commits: the
// commit named fails (nothing of it on disk) and so does every later one.
type cutStore struct {
	cardwrite.OfflineStore
	at  string // "open", "settle" or "reported"
	cut bool
}

var errPowerCut = errors.New("power cut")

func (c *cutStore) Open(in cardwrite.Intent) error {
	if c.cut || c.at == "open" {
		c.cut = true
		return errPowerCut
	}
	return c.OfflineStore.Open(in)
}

func (c *cutStore) Settle(id string, o protocol.WriteOutcome, e protocol.CardValues) error {
	if c.cut || c.at == "settle" {
		c.cut = true
		return errPowerCut
	}
	return c.OfflineStore.Settle(id, o, e)
}

func (c *cutStore) Reported(id string, o protocol.WriteOutcome) error {
	if c.cut || c.at == "reported" {
		c.cut = true
		return errPowerCut
	}
	return c.OfflineStore.Reported(id, o)
}

// TestServiceWritePowerCut: the power cut at each commit of a card write
// (the intent, the outcome, the report's mark), then the store reopened
// and the card tapped again: the card and the ledger agree, the write is
// done once (the ledger applied it once), and no report stays behind.
func TestServiceWritePowerCut(t *testing.T) {
	for _, at := range []string{"open", "settle", "reported"} {
		t.Run(at, func(t *testing.T) {
			r := newRig(t)
			card := r.holder()
			cs := &cutStore{OfflineStore: cardwrite.OfflineStore{S: r.store}, at: at}
			cw, err := cardwrite.New(cardwrite.Options{Store: cs, Ledger: r.client, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			auto := false
			cfg := r.cfg
			cfg.AutoClaim = &auto
			s, err := kiosk.NewSessions(kiosk.SessionOptions{Kiosk: r.kiosk, Bank: r.client, Display: r.ui, Config: cfg,
				Now: r.clock.Now, Logger: quiet(), Services: r.client, Writes: cw})
			if err != nil {
				t.Fatal(err)
			}
			id, _ := open(t, r, s, card)
			st, _ := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: holderPIN, TxLimit: 4400})
			if at == "open" && (st.Code != load.CodeStoreFault || len(r.pending(t)) != 1) {
				t.Fatalf("no intent: the card must not be written: %+v", st)
			}
			if cd, _ := campus(t, card); at == "open" && cd.TxnLimit != 0 {
				t.Fatalf("written without its intent: %+v", cd)
			}
			r.rdr.Remove()
			s.Close(r.ctx, "", "power cut")

			r.reopen()
			s2, cw2 := r.svcSessions()
			_, op := open(t, r, s2, card)
			if at != "reported" && (len(op.Writes) != 1 || op.Writes[0].Outcome != "written") {
				t.Fatalf("补写 after the restart: %+v", op.Writes)
			}
			if n, err := cw2.Report(r.ctx); err != nil {
				t.Fatalf("reports after: %d %v", n, err)
			}
			cd, _ := campus(t, card)
			a := r.account()
			if cd.TxnLimit != 4400 || a.Account.TxLimit != 4400 || len(r.pending(t)) != 0 {
				t.Fatalf("card %d, ledger %d, pending %+v", cd.TxnLimit, a.Account.TxLimit, r.pending(t))
			}
			if left, err := r.store.CardWritesToReport(); err != nil || len(left) != 0 {
				t.Fatalf("reports left %+v %v", left, err)
			}
		})
	}
}

// TestServiceReportLater: the ledger gone between the card write and its
// report: the step is done on the card, the ledger still holds the write
// pending, and the report goes once the ledger is back (Report), after
// which they agree.
func TestServiceReportLater(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	s, cw := r.svcSessions()
	id, _ := open(t, r, s, card)
	// The MAC passes; the report is the next exchange: the link goes
	// down after the UPDATE BINARY's answer.
	if err := card.Arm(sim.Fault{Kind: sim.Latency, INS: sim.InsUpdateBinary, Nth: 1, Delay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for len(card.Faults()) != 0 {
			time.Sleep(100 * time.Microsecond)
		}
		r.down.Store(true)
	}()
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeSetLimit, PIN: holderPIN, TxLimit: 6600})
	if err != nil || len(st.Writes) != 1 || st.Writes[0].Outcome != "written" || st.Writes[0].Acked {
		t.Fatalf("step with the ledger gone: %+v %v", st, err)
	}
	if ws := r.pending(t); len(ws) != 1 || r.account().Account.TxLimit == 6600 {
		t.Fatalf("the ledger believed the card before its report: %+v", ws)
	}
	r.down.Store(false)
	if n, err := cw.Report(r.ctx); err != nil || n != 1 {
		t.Fatalf("report later: %d %v", n, err)
	}
	if r.account().Account.TxLimit != 6600 || len(r.pending(t)) != 0 {
		t.Fatal("the report did not apply the write")
	}
}

// deskSessions are a service desk's sessions on the rig's reader and
// store, with their own device key enrolled as a desk.
func (r *rig) deskSessions(t *testing.T) *kiosk.Sessions {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner("desk-hall-6", protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{Ledger: r.ledger.URL, DeviceID: "desk-hall-6", Signer: signer,
		Kind: protocol.DeviceDesk, Firmware: "test", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := r.ledger.NewToken("desk-hall-6", "desk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	cw, err := cardwrite.New(cardwrite.Options{Store: cardwrite.OfflineStore{S: r.store}, Ledger: c, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	auto := false
	cfg := r.cfg
	cfg.AutoClaim = &auto
	s, err := kiosk.NewSessions(kiosk.SessionOptions{Kiosk: r.kiosk, Bank: c, Display: r.ui, Config: cfg,
		Now: r.clock.Now, Logger: quiet(), Services: c, Writes: cw, Desk: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDeskResetPIN (重置密码, window 6): a card whose PIN the holder
// blocked gets a new one by PIN RELOAD under the ledger's MAC, only with
// an operator signed in; the ledger takes the new PIN once the card is
// written; the journal names the operator.
func TestDeskResetPIN(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	io := simIO{card}
	if _, err := epurse.Select(r.ctx, io, sim.DefaultAID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_ = epurse.VerifyPIN(r.ctx, io, "000000")
	}
	if err := epurse.VerifyPIN(r.ctx, io, holderPIN); !errors.Is(err, epurse.ErrLocked) {
		t.Fatalf("the PIN is not blocked: %v", err)
	}
	s := r.deskSessions(t)
	id, _ := open(t, r, s, card)
	if _, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeResetPIN, NewPIN: "135790"}); !errors.Is(err, kiosk.ErrNoOperator) {
		t.Fatalf("no operator: %v", err)
	}
	if err := s.SignIn("OP-07"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeResetPIN, NewPIN: "135790"})
	if err != nil || st.Code != kiosk.CodePINReset || len(st.Writes) != 1 || st.Writes[0].Outcome != "written" || !st.Writes[0].Acked {
		t.Fatalf("reset: %+v %v", st, err)
	}
	card.Reset()
	if _, err := epurse.Select(r.ctx, io, sim.DefaultAID); err != nil {
		t.Fatal(err)
	}
	if err := epurse.VerifyPIN(r.ctx, io, "135790"); err != nil {
		t.Fatalf("the new PIN on the card: %v", err)
	}
	id, _ = open(t, r, s, card)
	if st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeStatement, PIN: "135790"}); err != nil || st.Code != kiosk.CodeStatement {
		t.Fatalf("the new PIN at the ledger: %+v %v", st, err)
	}
	if st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeUnblock, Unblock: protocol.UnblockPIN | protocol.UnblockID}); err != nil || st.Code != kiosk.CodeUnblocked {
		t.Fatalf("unblock: %+v %v", st, err)
	}
	h, _ := r.store.Head()
	es, err := r.store.Records(0, int(h.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, e := range es {
		if (e.Record.Kind == protocol.KindService || e.Record.Kind == protocol.KindCardWrite) && e.Record.Operator == "OP-07" {
			ops++
		}
	}
	if ops != 4 { // reset-pin, its pin-reload write, the statement, the unblock
		t.Fatalf("%d records name the operator, want 4", ops)
	}
	s.SignOut()
	if _, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeStatement, PIN: "135790"}); !errors.Is(err, kiosk.ErrNoOperator) {
		t.Fatalf("after sign-out: %v", err)
	}
	if err := s.SignIn("bad name!"); !errors.Is(err, kiosk.ErrBadRequest) {
		t.Fatalf("a malformed operator: %v", err)
	}
}

// TestServiceExtendAtNextTap (延期): the registry's extension is a pending
// valid-until write; the card's next tap at a kiosk writes the new end
// into file 0x15 (补写) and the ledger's account end follows.
func TestServiceExtendAtNextTap(t *testing.T) {
	r := newRig(t)
	card := r.holder()
	if _, err := r.ledger.ExtendAccounts([]ledger.Extension{{Line: 1, ID: holderAcct, Until: "20310831"}}); err != nil {
		t.Fatal(err)
	}
	if ws := r.pending(t); len(ws) != 1 || ws[0].Field != protocol.FieldValidUntil {
		t.Fatalf("pending after the extension: %+v", ws)
	}
	s, _ := r.svcSessions()
	_, st := open(t, r, s, card)
	if len(st.Writes) != 1 || st.Writes[0].Field != "valid-until" || st.Writes[0].Outcome != "written" || !st.Writes[0].Acked {
		t.Fatalf("open: %+v", st)
	}
	if _, pub := campus(t, card); pub.End != [4]byte{0x20, 0x31, 0x08, 0x31} {
		t.Fatalf("the card's end %X", pub.End)
	}
	if a := r.account(); a.Account.ValidUntil != "20310831" || len(r.pending(t)) != 0 {
		t.Fatalf("the ledger's end %s, pending %+v", a.Account.ValidUntil, r.pending(t))
	}
}

// TestDeskCloseAccount (销户): the card's INITIALIZE FOR LOAD proves its
// purse to the ledger, which moves it into the account for refund,
// cancels the account and lists the card; the desk writes the cancelled
// status onto the card, which every terminal then refuses offline.
func TestDeskCloseAccount(t *testing.T) {
	r := newRig(t)
	card := r.holder() // 100.00 yuan in the purse
	s := r.deskSessions(t)
	if err := s.SignIn("OP-07"); err != nil {
		t.Fatal(err)
	}
	id, _ := open(t, r, s, card)
	st, err := s.Service(r.ctx, id, kiosk.ServiceInput{Trade: protocol.TradeCloseAccount})
	if err != nil || st.Code != kiosk.CodeAccountClosed || st.Refund != 10000 || len(st.Writes) != 1 || st.Writes[0].Outcome != "written" {
		t.Fatalf("close: %+v %v", st, err)
	}
	a := r.account()
	if a.Account.State != "cancelled" || a.Account.Balance != 10000 {
		t.Fatalf("the account after: %+v", a.Account)
	}
	if _, pub := campus(t, card); pub.Status != epurse.CardStatusCancelled {
		t.Fatalf("the card's status %02X", pub.Status)
	}
	if bal := balance(card); bal != 10000 {
		t.Fatalf("the card's purse changed: %d (no CREDIT may follow the proof)", bal)
	}
}
