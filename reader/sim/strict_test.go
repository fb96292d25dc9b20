package sim_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// The virtual card is as strict as a real card OS: each behaviour below is
// one a kinder fake would hide from the money paths' tests.

// TestOnlyLastProofKept: GET TRANSACTION PROVE answers for the last
// transaction only (of either type); an older one is gone (9406) and can
// be found only in the cyclic log.
func TestOnlyLastProofKept(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	first := r.pay(card, pub, 100)
	second := r.pay(card, pub, 200)
	if first.Kind != epurse.Done || second.Kind != epurse.Done {
		t.Fatalf("purchases: %v %v", first.Kind, second.Kind)
	}
	if _, _, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxPurchase, 1); !errors.Is(err, epurse.ErrNoProof) {
		t.Fatalf("proof of the purchase before the last: %v, want ErrNoProof", err)
	}
	mac, tac, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxPurchase, 2)
	if err != nil || mac != second.MAC2 || tac != second.TAC {
		t.Fatalf("proof of the last purchase: %X %X %v, want %X %X", mac, tac, err, second.MAC2, second.TAC)
	}
	// A load is the last transaction now: the purchase's proof is gone.
	tid, _ := r.sam.TerminalID(r.ctx)
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); err != nil {
		t.Fatal(err)
	}
	ld := epurse.Load(r.ctx, card, host{t}, epurse.LoadRequest{Amount: 500, Time: testTime, TermID: tid, CardSerial: pub.Factor()})
	if ld.Kind != epurse.Done {
		t.Fatalf("load: %v %v", ld.Kind, ld.Err)
	}
	if _, _, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxPurchase, 2); !errors.Is(err, epurse.ErrNoProof) {
		t.Fatalf("purchase proof after a load: %v, want ErrNoProof", err)
	}
	if _, tac, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxLoad, 1); err != nil || tac != ld.TAC {
		t.Fatalf("load proof: %X %v, want %X", tac, err, ld.TAC)
	}
}

// TestStateFileKeepsOneProof: a state file written by an older virtual
// card with several proofs loads with the newest one only.
func TestStateFileKeepsOneProof(t *testing.T) {
	r := newRig(t, "student")
	path := filepath.Join(t.TempDir(), "card.json")
	if err := r.card.Save(path); err != nil {
		t.Fatal(err)
	}
	card, pub := r.tap()
	for range 3 {
		if out := r.pay(card, pub, 100); out.Kind != epurse.Done {
			t.Fatal(out.Err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	proofs, _ := st["proofs"].([]any)
	if len(proofs) != 1 {
		t.Fatalf("state file holds %d proofs, want 1", len(proofs))
	}
	// Forge an old file with three proofs, newest first.
	p := proofs[0].(map[string]any)
	older := func(c float64) map[string]any {
		q := map[string]any{}
		for k, v := range p {
			q[k] = v
		}
		q["counter"] = c
		return q
	}
	st["proofs"] = []any{p, older(2), older(1)}
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := sim.LoadCard(path)
	if err != nil {
		t.Fatal(err)
	}
	r.card = loaded
	card, _ = r.tap()
	if _, _, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxPurchase, 3); err != nil {
		t.Fatalf("newest proof: %v", err)
	}
	if _, _, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxPurchase, 2); !errors.Is(err, epurse.ErrNoProof) {
		t.Fatalf("older proof of an old state file: %v, want ErrNoProof", err)
	}
}

// TestLogCyclic: file 0x18 holds the ten newest transactions, newest
// first; the eleventh purchase overwrites the oldest record.
func TestLogCyclic(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	for i := range 12 {
		if out := r.pay(card, pub, uint32(10+i)); out.Kind != epurse.Done {
			t.Fatalf("purchase %d: %v %v", i, out.Kind, out.Err)
		}
	}
	if st := r.card.Status(); st.Records != 10 || st.OfflineCounter != 12 {
		t.Fatalf("status %+v, want 10 records after 12 purchases", st)
	}
	recs, err := epurse.ReadLog(r.ctx, card, 255)
	if err != nil || len(recs) != 10 {
		t.Fatalf("log: %d records, %v", len(recs), err)
	}
	for i, rec := range recs {
		// Record 1 is the 12th purchase (amount 21, counter 11 before it).
		if want := uint32(21 - i); rec.Amount != want || rec.Counter != uint16(11-i) || rec.Type != epurse.TxPurchase {
			t.Fatalf("record %d: %+v, want amount %d counter %d", i+1, rec, want, 11-i)
		}
	}
	if _, sw := transceive(t, card, epurse.ReadRecordSFI(epurse.SFILog, 11, 0)); sw != reader.SWRecordNotFound {
		t.Fatalf("READ RECORD 11: %v, want 6A83", sw)
	}
}

// TestLoadNeedsVerifiedPIN: INITIALIZE FOR LOAD is refused with 6982 unless
// a PIN was verified since the application was selected; the security
// state is volatile (lost on reset, tear and a new SELECT, and by a wrong
// PIN). Purchases need no PIN.
func TestLoadNeedsVerifiedPIN(t *testing.T) {
	r := newRig(t, "student")
	tid, _ := r.sam.TerminalID(r.ctx)
	initLoad := epurse.InitLoadCommand(1, 100, tid)
	pin, _ := epurse.VerifyPINCommand("123456")
	wrong, _ := epurse.VerifyPINCommand("000000")
	sel := epurse.SelectAID(epurse.AIDKingstar)
	card, pub := r.tap()
	steps := []struct {
		name string
		cmd  reader.Command
		want reader.SW
	}{
		{"load before any PIN", initLoad, reader.SWSecurityNotSatisfied},
		{"holder's PIN", pin, reader.SWOK},
		{"load after the PIN", initLoad, reader.SWOK},
		{"load again in the same session", initLoad, reader.SWOK},
		{"a new SELECT", sel, reader.SWOK},
		{"load after the new SELECT", initLoad, reader.SWSecurityNotSatisfied},
		{"PIN again", pin, reader.SWOK},
		{"a wrong PIN", wrong, 0x63C2},
		{"load after the wrong PIN", initLoad, reader.SWSecurityNotSatisfied},
		{"PIN once more", pin, reader.SWOK},
	}
	for _, s := range steps {
		if _, sw := transceive(t, card, s.cmd); sw != s.want {
			t.Fatalf("%s: %v, want %v", s.name, sw, s.want)
		}
	}
	// A reset (the card left the field) forgets the PIN.
	card, _ = r.tap()
	if _, sw := transceive(t, card, initLoad); sw != reader.SWSecurityNotSatisfied {
		t.Fatalf("load after a new tap: %v, want 6982", sw)
	}
	// The flow: refused without a PIN, nothing moved; done with one.
	req := epurse.LoadRequest{Amount: 700, Time: testTime, TermID: tid, CardSerial: pub.Factor()}
	out := epurse.Load(r.ctx, card, host{t}, req)
	var se *reader.StatusError
	if out.Kind != epurse.Refused || !errors.As(out.Err, &se) || se.SW != reader.SWSecurityNotSatisfied {
		t.Fatalf("load without a PIN: %v %v", out.Kind, out.Err)
	}
	if st := r.card.Status(); st.Balance != 10000 || st.OnlineCounter != 0 {
		t.Fatalf("a refused load changed the card: %+v", st)
	}
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); err != nil {
		t.Fatal(err)
	}
	if out := epurse.Load(r.ctx, card, host{t}, req); out.Kind != epurse.Done || out.BalanceAfter != 10700 {
		t.Fatalf("load with the holder's PIN: %v %v", out.Kind, out.Err)
	}
	// A purchase needs none, on a fresh tap.
	card, pub = r.tap()
	if out := r.pay(card, pub, 100); out.Kind != epurse.Done {
		t.Fatalf("purchase without a PIN: %v %v", out.Kind, out.Err)
	}
}

// TestSystemPIN: the card's second PIN, derived at issuance from the
// application serial under the system-PIN master key: VERIFY P2 01 opens
// loads like the holder's PIN, with its own retry counter (15 tries), and
// a blocked system PIN leaves the holder's PIN working.
func TestSystemPIN(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	tid, _ := r.sam.TerminalID(r.ctx)
	req := epurse.SystemPINRequest{CardSerial: pub.Factor(), KeyVersion: 1, Algorithm: epurse.AlgDES}
	pin, err := r.sam.SystemPIN(r.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.card.Status(); st.SystemPINTries != 15 || st.PINTries != 3 {
		t.Fatalf("fresh card: %+v", st)
	}
	sysPIN, err := epurse.VerifySystemPINCommand(pin)
	if err != nil {
		t.Fatal(err)
	}
	wrongPIN := append([]byte(nil), pin...)
	wrongPIN[2] ^= 0x01
	wrong, _ := epurse.VerifySystemPINCommand(wrongPIN)
	holder, _ := epurse.VerifyPINCommand("123456")
	initLoad := epurse.InitLoadCommand(1, 100, tid)
	// The holder's PIN is not the system PIN, nor the other way round.
	asSystem, _ := epurse.VerifySystemPINCommand([]byte{0x12, 0x34, 0x56})
	asHolder := sysPIN
	asHolder.P2 = epurse.PINRefHolder
	badRef := sysPIN
	badRef.P2 = 0x02
	for _, s := range []struct {
		name string
		cmd  reader.Command
		want reader.SW
	}{
		{"system PIN", sysPIN, reader.SWOK},
		{"load after the system PIN", initLoad, reader.SWOK},
		{"a wrong system PIN", wrong, 0x63CE},
		{"load after it", initLoad, reader.SWSecurityNotSatisfied},
		{"the holder's PIN as the system PIN", asSystem, 0x63CD},
		{"the system PIN as the holder's", asHolder, 0x63C2},
		{"unknown PIN reference", badRef, reader.SWWrongP1P2},
		{"system PIN again", sysPIN, reader.SWOK},
		{"holder's PIN", holder, reader.SWOK},
	} {
		if _, sw := transceive(t, card, s.cmd); sw != s.want {
			t.Fatalf("%s: %v, want %v", s.name, sw, s.want)
		}
	}
	if st := r.card.Status(); st.SystemPINTries != 15 || st.PINTries != 3 {
		t.Fatalf("tries not reset by the right PINs: %+v", st)
	}
	// Fifteen wrong system PINs block it; the holder's PIN still opens
	// loads (on a new tap: the holder's PIN verified above would open them).
	card, _ = r.tap()
	for i := 14; i >= 0; i-- {
		err := epurse.VerifySystemPIN(r.ctx, card, wrongPIN)
		var pe *epurse.PINError
		if !errors.As(err, &pe) || pe.Retries != i {
			t.Fatalf("wrong system PIN: %v, want %d tries left", err, i)
		}
	}
	if err := epurse.VerifySystemPIN(r.ctx, card, pin); !errors.Is(err, epurse.ErrLocked) {
		t.Fatalf("right system PIN once blocked: %v", err)
	}
	if _, sw := transceive(t, card, initLoad); sw != reader.SWSecurityNotSatisfied {
		t.Fatalf("load with a blocked system PIN: %v", sw)
	}
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); err != nil {
		t.Fatalf("holder's PIN with the system PIN blocked: %v", err)
	}
	if _, sw := transceive(t, card, initLoad); sw != reader.SWOK {
		t.Fatalf("load with the holder's PIN: %v", sw)
	}
	if st := r.card.Status(); st.SystemPINTries != 0 || st.PINTries != 3 {
		t.Fatalf("status %+v", st)
	}

	// A card issued without a system-PIN master key has no system PIN.
	d := sim.Catalogue()[0]
	keys := sam.TestKeys().Keys[1]
	keys.SystemPIN = nil
	bare, err := sim.NewCard(d.Profile, keys, 100)
	if err != nil {
		t.Fatal(err)
	}
	r.card = bare
	card, _ = r.tap()
	if _, sw := transceive(t, card, sysPIN); sw != reader.SWRefDataNotFound {
		t.Fatalf("VERIFY P2 01 on a card without a system PIN: %v, want 6A88", sw)
	}
}

// TestSystemPINPersists: the system PIN and its tries are in the state
// file; a state file of version 1 (before system PINs) loads, with none.
func TestSystemPINPersists(t *testing.T) {
	r := newRig(t, "student")
	path := filepath.Join(t.TempDir(), "card.json")
	if err := r.card.Save(path); err != nil {
		t.Fatal(err)
	}
	card, pub := r.tap()
	if err := epurse.VerifySystemPIN(r.ctx, card, []byte{0x00, 0x00, 0x00}); err == nil {
		t.Fatal("wrong system PIN accepted")
	}
	loaded, err := sim.LoadCard(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := loaded.Status(); st.SystemPINTries != 14 {
		t.Fatalf("reloaded: %+v", st)
	}
	r.card = loaded
	card, _ = r.tap()
	pin, _ := r.sam.SystemPIN(r.ctx, epurse.SystemPINRequest{CardSerial: pub.Factor(), KeyVersion: 1, Algorithm: epurse.AlgDES})
	if err := epurse.VerifySystemPIN(r.ctx, card, pin); err != nil {
		t.Fatalf("system PIN on the reloaded card: %v", err)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["version"] = 1
	delete(st, "system_pin")
	delete(st, "system_pin_tries")
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v1, err := sim.LoadCard(path)
	if err != nil {
		t.Fatalf("version 1 state file: %v", err)
	}
	r.card = v1
	card, _ = r.tap()
	cmd, _ := epurse.VerifySystemPINCommand(pin)
	if _, sw := transceive(t, card, cmd); sw != reader.SWRefDataNotFound {
		t.Fatalf("system PIN on a version 1 card: %v, want 6A88", sw)
	}
}

// TestPhoneUIDChanges: a phone (HCE) presents a random UID at every
// presentation (08 xx xx xx, ISO 14443-3's random NUID); its identity is
// file 0x15 only. A plastic card keeps its UID. The reader's GET DATA
// (FF CA 00 00 00, answered by the card behind vpcd) gives the same UID
// as the event.
func TestPhoneUIDChanges(t *testing.T) {
	d := sim.Catalogue()[0]
	d.Profile.Kind = sim.KindPhone
	phone, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "student")
	plastic := r.card
	getUID := reader.Command{CLA: 0xFF, INS: 0xCA, P1: 0x00, P2: 0x00, HasLe: true, Name: "GET DATA UID"}
	seen := map[string]bool{}
	for i := range 4 {
		r.card = phone
		r.reader.Tap(phone)
		ev := nextPresent(t, r)
		if len(ev.UID) != 4 || ev.UID[0] != 0x08 {
			t.Fatalf("tap %d: phone UID % X, want 4 bytes starting 08", i, ev.UID)
		}
		if seen[string(ev.UID)] {
			t.Fatalf("tap %d: UID % X presented before", i, ev.UID)
		}
		seen[string(ev.UID)] = true
		if uid, sw := transceive(t, ev.Card, getUID); sw != reader.SWOK || !bytes.Equal(uid, ev.UID) {
			t.Fatalf("GET DATA: % X %v, event % X", uid, sw, ev.UID)
		}
		if st := phone.Status(); st.UID != hex.EncodeToString(ev.UID) || st.Kind != sim.KindPhone {
			t.Fatalf("status %+v, event UID % X", st, ev.UID)
		}
		if _, err := epurse.Select(r.ctx, ev.Card, epurse.AIDKingstar); err != nil {
			t.Fatal(err)
		}
		pub, err := epurse.ReadPublicData(r.ctx, ev.Card)
		if err != nil || pub.CardNumber() != sim.DemoStudentNo {
			t.Fatalf("the phone's identity: %q %v", pub.CardNumber(), err)
		}
		r.reader.Remove()
	}
	// A plastic card presents the same UID every time.
	var first []byte
	for range 2 {
		r.reader.Tap(plastic)
		ev := nextPresent(t, r)
		if first != nil && !bytes.Equal(ev.UID, first) {
			t.Fatalf("plastic UID % X, then % X", first, ev.UID)
		}
		first = ev.UID
		if uid, sw := transceive(t, ev.Card, getUID); sw != reader.SWOK || !bytes.Equal(uid, first) {
			t.Fatalf("plastic GET DATA: % X %v", uid, sw)
		}
		r.reader.Remove()
	}
	// A phone has no fixed UID to give.
	d.Profile.UID = []byte{1, 2, 3, 4}
	if _, err := d.Issue(); err == nil {
		t.Fatal("a phone profile with a fixed UID was issued")
	}
	d.Profile.UID, d.Profile.Kind = nil, "watch"
	if _, err := d.Issue(); err == nil {
		t.Fatal("an unknown card kind was issued")
	}
}

// nextPresent waits (bounded) for the rig reader's next CardPresent.
func nextPresent(t *testing.T, r *rig) reader.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-r.events:
			if e.Kind == reader.CardPresent {
				return e
			}
		case <-deadline:
			t.Fatal("no CardPresent event")
		}
	}
}
