package ledger_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// macSource stands in for the key service's card-write MACs (another
// change to package keys): it records what the ledger asks and answers a
// MAC keyed by its own secret over all of it.
type macSource struct {
	mu  sync.Mutex
	got []ledger.CardWriteMACInput
}

func (m *macSource) CardWriteMAC(_ context.Context, in ledger.CardWriteMACInput) ([4]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, in)
	return macOf(in), nil
}

func macOf(in ledger.CardWriteMACInput) [4]byte {
	h := hmac.New(sha256.New, []byte("test maintenance key"))
	h.Write([]byte{byte(in.Field), in.KeyVersion})
	h.Write(in.CardSerial[:])
	h.Write(in.Challenge)
	h.Write(in.Command)
	return [4]byte(h.Sum(nil))
}

func (r *svcRig) mac(t *testing.T, dev *ledgertest.Device, w protocol.CardWrite, cmd []byte) (protocol.CardWriteMAC, *protocol.Error) {
	t.Helper()
	m := &protocol.CardWriteMACRequest{DeviceID: dev.ID, WriteID: w.WriteID, CardNo: w.CardNo, CardSerial: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		KeyVersion: 1, Challenge: []byte{0x1B, 0x53, 0x47, 0x32}, Command: cmd}
	if dev == r.desk {
		m.Operator = op
	}
	return post[protocol.CardWriteMAC](t, r.tl, dev, protocol.PathCardWriteMAC, dev.Seal(t, m))
}

// updateCmd is the command of w as a terminal sends it, without the MAC.
func updateCmd(t *testing.T, w epurse.BinaryWrite) []byte {
	t.Helper()
	h, err := w.Header()
	if err != nil {
		t.Fatal(err)
	}
	return append(h[:], w.Data...)
}

// TestCardWriteMAC: the MAC of a pending write's secure-messaging
// command comes from the key service's card-write MACs with the card's
// serial, key version, challenge and the command as sent; the command
// must be the write's (UPDATE BINARY carrying its value, PIN RELOAD for a
// reset); a CHANGE PIN write, another card's write and a finished write
// get none. Without a MAC source the answer carries no MAC.
func TestCardWriteMAC(t *testing.T) {
	src := &macSource{}
	r := newSvcRig(t, ledger.Options{CardWriteMACs: src})
	lim := r.req(t, r.kiosk, protocol.TradeSetLimit)
	lim.CardNo, lim.PIN, lim.TxLimit = svcCard, sp(svcPIN), 0x012345
	w := r.ok(t, r.kiosk, lim).Writes[0]
	update := updateCmd(t, epurse.LimitsWrite(0x012345, 50000)) // the daily limit as the card holds it
	got, e := r.mac(t, r.pos, w, update)
	if e != nil || len(src.got) != 1 {
		t.Fatalf("mac: %+v %v", got, e)
	}
	in := src.got[0]
	if in.Field != protocol.FieldTxLimit || in.KeyVersion != 1 || in.CardSerial != [8]byte{1, 2, 3, 4, 5, 6, 7, 8} ||
		!bytes.Equal(in.Challenge, []byte{0x1B, 0x53, 0x47, 0x32}) || !bytes.Equal(in.Command, update) {
		t.Fatalf("the key service got %+v", in)
	}
	if want := macOf(in); !bytes.Equal(got.MAC, want[:]) || got.WriteID != w.WriteID {
		t.Fatalf("mac %X, want %X", got.MAC, want)
	}
	for _, tc := range []struct {
		name string
		cmd  []byte
	}{
		{"another value", updateCmd(t, epurse.LimitsWrite(0x012346, 50000))},
		{"no secure messaging", append([]byte{0x00}, update[1:]...)},
		{"Lc without the MAC", append([]byte{update[0], update[1], update[2], update[3], 8}, update[5:]...)},
		{"not an update", append([]byte{update[0], 0xDC}, update[2:]...)},
		{"another file", updateCmd(t, epurse.BinaryWrite{SFI: epurse.SFIPublicData, Offset: 1, Data: update[5:]})},
		{"the status field", updateCmd(t, epurse.ListVersionWrite(0x012345))},
	} {
		if _, e := r.mac(t, r.kiosk, w, tc.cmd); e == nil || e.Code != protocol.CodeMalformed {
			t.Errorf("%s: %v", tc.name, e)
		}
	}
	other := w
	other.CardNo = sim.DemoStudentNo
	if _, e := r.mac(t, r.kiosk, other, update); e == nil || e.Code != protocol.CodeUnknownRef {
		t.Errorf("another card's write: %v", e)
	}
	r.written(t, r.kiosk, w)
	if _, e := r.mac(t, r.kiosk, w, update); e == nil || e.Code != protocol.CodeStateRefused {
		t.Errorf("a written write: %v", e)
	}

	cp := r.req(t, r.kiosk, protocol.TradeChangePIN)
	cp.CardNo, cp.PIN, cp.NewPIN = svcCard, sp(svcPIN), sp("135791")
	pw := r.ok(t, r.kiosk, cp).Writes[0]
	if _, e := r.mac(t, r.kiosk, pw, []byte{0x84, 0x5E, 0x01, 0x00, 4 + 4, 1, 2, 3, 4}); e == nil || e.Code != protocol.CodeMalformed {
		t.Errorf("CHANGE PIN: %v", e)
	}
	if _, e := r.report(t, r.kiosk, pw, protocol.OutcomeFailed, protocol.CardValues{}); e != nil {
		t.Fatal(e)
	}
	reset := r.req(t, r.desk, protocol.TradeResetPIN)
	reset.CardNo, reset.NewPIN = svcCard, sp("135791")
	rw := r.ok(t, r.desk, reset).Writes[0]
	if _, e := r.mac(t, r.desk, rw, updateCmd(t, epurse.BinaryWrite{SFI: epurse.SFICampus, Offset: 0, Data: []byte{0x13, 0x57, 0x9F}})); e == nil || e.Code != protocol.CodeMalformed {
		t.Errorf("a reset by UPDATE BINARY: %v", e)
	}
	if m, e := r.mac(t, r.desk, rw, []byte{0x80, 0x5E, 0x00, 0x00, 3 + 4, 0x13, 0x57, 0x9F}); e != nil || len(m.MAC) != 4 || src.got[len(src.got)-1].Field != protocol.FieldPINReload {
		t.Errorf("PIN RELOAD: %+v %v", m, e)
	}

	// Without Options.CardWriteMACs the ledger's own key service makes
	// them: the MAC of the card's diversified DAMK.
	plain := newSvcRig(t, ledger.Options{})
	lim = plain.req(t, plain.kiosk, protocol.TradeSetLimit)
	lim.CardNo, lim.PIN, lim.TxLimit = svcCard, sp(svcPIN), 0x012345
	w = plain.ok(t, plain.kiosk, lim).Writes[0]
	ref := epurse.CardRef{Serial: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, KeyVersion: 1}
	want, err := keys.NewSoftware(ledgertest.TestIssuerKeys()).UpdateMAC(context.Background(), ref, [4]byte{0x1B, 0x53, 0x47, 0x32}, [5]byte(update[:5]), update[5:])
	if err != nil {
		t.Fatal(err)
	}
	if m, e := plain.mac(t, plain.kiosk, w, update); e != nil || !bytes.Equal(m.MAC, want[:]) {
		t.Errorf("the key service's MAC: %+v %v, want %X", m, e, want)
	}
}

// TestExtendAccounts: the registry's extensions become pending
// valid-until writes; the account's end (and an expired account's
// refusal) changes when the card is written; a second file replaces a
// pending write of another end, and one of the same end changes nothing;
// unknown and cancelled accounts are counted, the others done; a past
// date refuses the whole list with its line.
func TestExtendAccounts(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	cancelled := "cancelled"
	if _, err := r.tl.SetAccount("S2026003", ledger.AccountChange{State: &cancelled}); err != nil {
		t.Fatal(err)
	}
	ext := []ledger.Extension{{Line: 1, ID: "S2020005", Until: "20280831"}, {Line: 2, ID: svcAcct, Until: "20310831"},
		{Line: 3, ID: "NOBODY", Until: "20310831"}, {Line: 4, ID: "S2026003", Until: "20310831"}}
	rep, err := r.tl.ExtendAccounts(ext)
	if err != nil || rep.Extended != 2 || rep.Replaced != 0 || len(rep.NotFound) != 1 || len(rep.Refused) != 1 {
		t.Fatalf("extend: %+v %v", rep, err)
	}
	if c := claims(t, r.tl, r.kiosk, sim.DemoExpiredNo, 0); c.Refusal != protocol.CodeAccountExpired {
		t.Fatalf("extended before the card says it: %+v", c)
	}
	ws := r.pending(t, r.kiosk, sim.DemoExpiredNo)
	if len(ws) != 1 || ws[0].Field != protocol.FieldValidUntil || ws[0].ValidUntil != "20280831" || ws[0].Trade != protocol.TradeExtend {
		t.Fatalf("pending %+v", ws)
	}
	rep, err = r.tl.ExtendAccounts([]ledger.Extension{{Line: 1, ID: "S2020005", Until: "20290831"}, {Line: 2, ID: svcAcct, Until: "20310831"}})
	if err != nil || rep.Extended != 1 || rep.Replaced != 1 || rep.Unchanged != 1 {
		t.Fatalf("second file: %+v %v", rep, err)
	}
	if _, e := r.report(t, r.pos, ws[0], protocol.OutcomeWritten, ws[0].Values()); e != nil {
		t.Fatal(e) // the replaced write: finished, answers its state
	}
	ws = r.pending(t, r.pos, sim.DemoExpiredNo)
	if len(ws) != 1 || ws[0].ValidUntil != "20290831" {
		t.Fatalf("after the replacement %+v", ws)
	}
	r.written(t, r.pos, ws[0])
	if c := claims(t, r.tl, r.kiosk, sim.DemoExpiredNo, 0); c.Refusal != 0 || account(t, r.tl, "S2020005").ValidUntil != "20290831" {
		t.Fatalf("after the card write: %+v", c)
	}
	_, err = r.tl.ExtendAccounts([]ledger.Extension{{Line: 1, ID: svcAcct, Until: "20350101"}, {Line: 7, ID: "S2020005", Until: "20200101"}})
	if !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), "line 7") {
		t.Fatalf("a past date: %v", err)
	}
	if ws, _ := r.tl.PendingWrites(svcCard); len(ws) != 1 || ws[0].Values.ValidUntil != "20310831" {
		t.Fatalf("a refused file changed something: %+v", ws)
	}
}

// TestParseExtensions: comments and blank lines are skipped; a malformed
// line, a bad date or an id given twice refuse the file with its line.
func TestParseExtensions(t *testing.T) {
	ext, err := ledger.ParseExtensions([]byte("# from the registry\nS1 20300831\n\n  S2\t20310131  \n"))
	if err != nil || len(ext) != 2 || ext[1] != (ledger.Extension{Line: 4, ID: "S2", Until: "20310131"}) {
		t.Fatalf("%+v %v", ext, err)
	}
	for _, tc := range []struct{ in, line string }{
		{"S1 20300831\nS2\n", "line 2"},
		{"S1 20300831\nS2 2030-08-31\n", "line 2"},
		{"S1 20300832\n", "line 1"},
		{"S1 20300831\nS1 20310831\n", "line 2"},
		{"S 1 20300831\n", "line 1"},
		{"S1 20300831\n" + strings.Repeat("x", 5000) + "\n", "line 2"},
		{"# nothing\n", "no `ID"},
	} {
		if _, err := ledger.ParseExtensions([]byte(tc.in)); !errors.Is(err, ledger.ErrInvalid) || !strings.Contains(err.Error(), tc.line) {
			t.Errorf("%q: %v", tc.in, err)
		}
	}
}

// FuzzParseExtensions: the registry's file never panics the parser; what
// it accepts are valid ids and dates, each id once.
func FuzzParseExtensions(f *testing.F) {
	f.Add([]byte("S2026001 20300831\nT2020004 20351231\n"))
	f.Add([]byte("# c\n\nS1 20300832\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ext, err := ledger.ParseExtensions(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range ext {
			if seen[e.ID] || len(e.Until) != 8 || e.Line < 1 {
				t.Fatalf("accepted %+v", e)
			}
			seen[e.ID] = true
		}
	})
}
