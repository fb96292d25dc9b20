package sim_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzCardRespond seeds")

// script joins APDUs with a one-byte length prefix each (the fuzz input).
func script(apdus ...[]byte) []byte {
	var b []byte
	for _, a := range apdus {
		b = append(b, byte(len(a)))
		b = append(b, a...)
	}
	return b
}

func fuzzCard(t testing.TB) *sim.Card {
	c, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	c.SetRandom(&counterRand{})
	return c
}

// validPurchase returns the APDUs of a correct purchase (and a load) on a
// fresh fuzzCard, MAC1 computed by a software SAM.
func validPurchase(t testing.TB) [][]byte {
	c := fuzzCard(t)
	s, _ := sam.NewSoftware(sam.TestKeys())
	tid := sam.TestKeys().TerminalID
	sel := epurse.SelectAID(epurse.AIDKingstar).Bytes()
	init := epurse.InitPurchaseCommand(1, 123, tid).Bytes()
	_, _ = c.Respond(sel)
	resp, _ := c.Respond(init)
	in, err := epurse.ParsePurchaseInit(resp[:len(resp)-2])
	if err != nil {
		t.Fatal(err)
	}
	pub := c.Profile().PublicData()
	seq, mac1, err := s.InitPurchase(t.Context(), epurse.SAMPurchaseRequest{Random: in.Random, OfflineCounter: in.OfflineCounter,
		Amount: 123, Type: epurse.TxPurchase, Time: testTime, KeyVersion: in.KeyVersion, Algorithm: in.Algorithm, CardSerial: pub.Factor()})
	if err != nil {
		t.Fatal(err)
	}
	debit := epurse.DebitCommand(seq, testTime, mac1).Bytes()
	pin, _ := epurse.VerifyPINCommand("123456")
	spin, err := s.SystemPIN(t.Context(), epurse.SystemPINRequest{CardSerial: pub.Factor(), KeyVersion: 1, Algorithm: epurse.AlgDES})
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := epurse.VerifySystemPINCommand(spin)
	return [][]byte{sel, epurse.ReadBinarySFI(0x15, 0, 0).Bytes(), init, debit,
		epurse.ProveCommand(epurse.TxPurchase, 1).Bytes(), epurse.ReadRecordSFI(0x18, 1, 0).Bytes(),
		pin.Bytes(), epurse.InitLoadCommand(1, 50, tid).Bytes(), epurse.CreditCommand(testTime, [4]byte{}).Bytes(),
		epurse.GetBalanceCommand().Bytes(),
		sys.Bytes(), {0xFF, 0xCA, 0x00, 0x00, 0x00}}
}

// Indexes into validPurchase's APDUs.
const (
	apduSelect = iota
	apduReadPublic
	apduInitPurchase
	apduDebit
	apduProve
	apduReadRecord
	apduVerify
	apduInitLoad
	apduCredit
	apduBalance
	apduVerifySystem
	apduGetData
)

// pinState is the harness's view of the card's security state: it sets a
// PIN's flag on a 9000 to VERIFY of it and clears it only where the card
// surely does (a successful SELECT, a wrong, blocked or malformed PIN), so
// it never says "no PIN" while the card has one.
type pinState struct{ holder, system bool }

func (p *pinState) observe(cmd, resp []byte) {
	if len(cmd) < 4 || len(resp) < 2 {
		return
	}
	sw1, sw2 := resp[len(resp)-2], resp[len(resp)-1]
	ok := sw1 == 0x90 && sw2 == 0x00
	switch {
	case cmd[0] == 0x00 && cmd[1] == 0xA4 && ok:
		*p = pinState{}
	case cmd[0] == 0x00 && cmd[1] == 0x20 && cmd[2] == 0x00 && (cmd[3] == 0x00 || cmd[3] == 0x01):
		wrong := sw1 == 0x63 || (sw1 == 0x69 && sw2 == 0x83) || (sw1 == 0x6A && sw2 == 0x80)
		f := &p.holder
		if cmd[3] == 0x01 {
			f = &p.system
		}
		switch {
		case ok:
			*f = true
		case wrong:
			*f = false
		}
	}
}

// session is the harness's own record of the last successful INITIALIZE.
type fuzzSession struct {
	typ     byte
	amount  uint32
	termID  [6]byte
	random  [4]byte
	counter uint16
	valid   bool
}

// validWrites returns the APDUs of correct card writes on a fresh
// fuzzCard: each GET CHALLENGE is answered as the fuzz run will answer it
// (the same deterministic random source), so the MACs stay valid.
func validWrites(t testing.TB) [][]byte {
	c := fuzzCard(t)
	ck, err := testMasterKeys().ForCard(epurse.AlgDES, c.Profile().Factor())
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	send := func(cmd []byte) []byte {
		out = append(out, cmd)
		resp, err := c.Respond(cmd)
		if err != nil || len(resp) < 2 {
			t.Fatalf("% X: % X %v", cmd, resp, err)
		}
		return resp[:len(resp)-2]
	}
	chal := func() [4]byte { return [4]byte(send(epurse.GetChallengeCommand().Bytes())) }
	send(epurse.SelectAID(epurse.AIDKingstar).Bytes())
	w := epurse.LimitsWrite(6000, 20000)
	h, _ := w.Header()
	mac, _ := epurse.SecureMAC(epurse.AlgDES, ck.DAMK, chal(), h[:], w.Data)
	ub, _ := epurse.UpdateBinaryCommand(w.SFI, w.Offset, w.Data, mac)
	send(ub.Bytes())
	bh := epurse.AppBlockHeader(false)
	mac, _ = epurse.SecureMAC(epurse.AlgDES, ck.DABK, chal(), bh[:])
	send(epurse.AppBlockCommand(false, mac).Bytes())
	uh := epurse.AppUnblockHeader()
	mac, _ = epurse.SecureMAC(epurse.AlgDES, ck.DAUK, chal(), uh[:])
	send(epurse.AppUnblockCommand(mac).Bytes())
	pin, _ := epurse.EncodePIN("654321")
	mac, _ = epurse.PINReloadMAC(epurse.AlgDES, ck.DRPK, pin)
	pr, _ := epurse.PINReloadCommand(pin, mac)
	send(pr.Bytes())
	return out
}

// writeAllowed reports whether cmd, answered 9000 right after a GET
// CHALLENGE that gave ch (hasCh), is a secure write whose MAC the harness
// recomputes as valid under the card's keys: the only commands that may
// change files 0x15 and 0x12 or the block state.
func writeAllowed(cmd []byte, ch [4]byte, hasCh bool, ck epurse.CardKeys) bool {
	if !hasCh || len(cmd) < 9 || int(cmd[4]) != len(cmd)-5 {
		return false
	}
	var key []byte
	switch {
	case cmd[0] == epurse.CLASecureISO && cmd[1] == epurse.InsUpdateBinary:
		key = ck.DAMK
	case cmd[0] == epurse.CLASecureProp && cmd[1] == epurse.InsAppBlock:
		key = ck.DABK
	case cmd[0] == epurse.CLASecureProp && cmd[1] == epurse.InsAppUnblock:
		key = ck.DAUK
	default:
		return false
	}
	n := len(cmd) - 4
	want, err := epurse.SecureMAC(epurse.AlgDES, key, ch, cmd[:5], cmd[5:n])
	return err == nil && want == [4]byte(cmd[n:])
}

// cardImage is what the card writes change, for the fuzz property.
func cardImage(c *sim.Card) string {
	p, _ := c.File(epurse.SFIPublicData)
	k, _ := c.File(epurse.SFICampus)
	return string(p) + string(k) + c.Status().Blocked
}

// FuzzCardRespond runs APDU sequences against a fresh card: it must never
// panic, and the balance may change only on a 9000 answer to DEBIT FOR
// PURCHASE or CREDIT FOR LOAD whose MAC the harness recomputes as valid,
// by exactly the INITIALIZE amount. INITIALIZE FOR LOAD answers 9000 only
// with a PIN verified since the last SELECT (pinState), and GET DATA
// answers the card's UID. Files 0x15 and 0x12 and the block state change
// only on a 9000 answer to a secure write whose MAC is valid under the
// challenge of the command right before it; the PIN only on CHANGE PIN or
// a PIN RELOAD with a valid MAC.
func FuzzCardRespond(f *testing.F) {
	f.Add(script(validPurchase(f)...))
	f.Add(script(validWrites(f)...))
	f.Add(script([]byte{0x80, 0x54, 0x01, 0x00, 0x0F}))
	f.Add(script([]byte{0x00, 0xA4, 0x04, 0x00}))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := fuzzCard(t)
		pub := c.Profile().PublicData()
		ck := cardKeys(t, pub.Factor())
		var s fuzzSession
		var pins pinState
		var ch [4]byte
		hasCh := false
		for len(in) > 0 {
			n := int(in[0])
			in = in[1:]
			n = min(n, len(in))
			cmd := in[:n]
			in = in[n:]
			before := c.Status().Balance
			image, pin := cardImage(c), c.Profile().PIN
			resp, err := c.Respond(cmd)
			if err != nil {
				t.Fatalf("Respond error without faults: %v", err)
			}
			if len(resp) < 2 {
				t.Fatalf("response of %d bytes", len(resp))
			}
			after := c.Status().Balance
			ok := bytes.HasSuffix(resp, []byte{0x90, 0x00})
			data := resp[:len(resp)-2]
			if cardImage(c) != image && (!ok || !writeAllowed(cmd, ch, hasCh, ck)) {
				t.Fatalf("files or block state changed on %X → %X", cmd, resp)
			}
			if p := c.Profile().PIN; p != pin {
				reload := len(cmd) > 9 && cmd[0] == 0x80 && cmd[1] == 0x5E && cmd[2] == 0x00
				if reload {
					n := len(cmd) - 4
					m, _ := epurse.PINReloadMAC(epurse.AlgDES, ck.DRPK, cmd[5:n])
					reload = m == [4]byte(cmd[n:])
				}
				if !ok || !(reload || (len(cmd) > 2 && cmd[0] == 0x80 && cmd[1] == 0x5E && cmd[2] == 0x01)) {
					t.Fatalf("PIN changed on %X → %X", cmd, resp)
				}
			}
			hasCh = ok && len(cmd) >= 2 && cmd[0] == 0x00 && cmd[1] == 0x84 && len(data) == 4
			if hasCh {
				ch = [4]byte(data)
			}
			if ok && len(cmd) >= 4 && cmd[0] == 0x80 && cmd[1] == 0x50 && cmd[2] == 0x00 && !pins.holder && !pins.system {
				t.Fatalf("INITIALIZE FOR LOAD %X answered 9000 without a verified PIN", cmd)
			}
			if ok && len(cmd) >= 4 && cmd[0] == 0xFF && cmd[1] == 0xCA && (len(data) == 0 || !bytes.HasPrefix(c.UID(), data)) {
				t.Fatalf("GET DATA gave % X, the UID is % X", data, c.UID())
			}
			pins.observe(cmd, resp)
			if ok && len(cmd) >= 16 && cmd[4] == 0x0B && cmd[0] == 0x80 && cmd[1] == 0x50 && (cmd[2] == 0 || cmd[2] == 1) {
				s = fuzzSession{typ: epurse.TxLoad, amount: binary.BigEndian.Uint32(cmd[6:10]), termID: [6]byte(cmd[10:16]), valid: true}
				if cmd[2] == 1 {
					pi, err := epurse.ParsePurchaseInit(data)
					if err != nil {
						t.Fatal(err)
					}
					s.typ, s.random, s.counter = epurse.TxPurchase, pi.Random, pi.OfflineCounter
				} else {
					li, err := epurse.ParseLoadInit(data)
					if err != nil {
						t.Fatal(err)
					}
					s.random, s.counter = li.Random, li.OnlineCounter
				}
			}
			if before == after {
				continue
			}
			if !ok || !s.valid || len(cmd) < 5+11 {
				t.Fatalf("balance %d → %d on %X → %X", before, after, cmd, resp)
			}
			body := cmd[5:]
			switch {
			case cmd[1] == 0x54 && s.typ == epurse.TxPurchase:
				seq := binary.BigEndian.Uint32(body[0:4])
				sk, _ := epurse.PurchaseSessionKey(epurse.AlgDES, ck.DPK, s.random, s.counter, seq)
				want, _ := epurse.PurchaseMAC1(epurse.AlgDES, sk, s.amount, s.termID, epurse.DateTime(body[4:11]))
				if [4]byte(body[11:15]) != want || before-after != s.amount {
					t.Fatalf("debit %d accepted with MAC1 %X, valid %X", before-after, body[11:15], want)
				}
			case cmd[1] == 0x52 && s.typ == epurse.TxLoad:
				sk, _ := epurse.LoadSessionKey(epurse.AlgDES, ck.DLK, s.random, s.counter)
				want, _ := epurse.LoadMAC2(epurse.AlgDES, sk, s.amount, s.termID, epurse.DateTime(body[0:7]))
				if [4]byte(body[7:11]) != want || after-before != s.amount {
					t.Fatalf("credit %d accepted with MAC2 %X, valid %X", after-before, body[7:11], want)
				}
			default:
				t.Fatalf("balance %d → %d on %X", before, after, cmd)
			}
			s.valid = false
		}
	})
}

// TestFuzzSeeds writes the seed corpus with -update-seeds and checks that
// the valid purchase seed does debit (so the fuzz property is exercised).
func TestFuzzSeeds(t *testing.T) {
	apdus := validPurchase(t)
	c := fuzzCard(t)
	for _, a := range apdus {
		if _, err := c.Respond(a); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Status(); st.Balance != 10000-123 || st.OfflineCounter != 1 {
		t.Fatalf("seed purchase did not debit: %+v", st)
	}
	w := fuzzCard(t)
	for _, a := range validWrites(t) {
		if resp, err := w.Respond(a); err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Fatalf("seed write % X: % X %v", a, resp, err)
		}
	}
	if st := w.Status(); st.TxnLimit != 6000 || st.DailyLimit != 20000 || st.Blocked != "" || w.Profile().PIN != "654321" {
		t.Fatalf("seed writes did not write: %+v", st)
	}
	if !*updateSeeds {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCardRespond")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wrongSys := append([]byte(nil), apdus[apduVerifySystem]...)
	wrongSys[len(wrongSys)-1] ^= 0x01
	seeds := map[string][]byte{
		"valid-purchase-and-load": script(apdus...),
		"debit-without-init":      script(apdus[0], apdus[3]),
		"double-debit":            script(apdus[0], apdus[2], apdus[3], apdus[3]),
		"prove-and-pin":           script(apdus[0], apdus[4], apdus[6], apdus[6]),
		"short-apdus":             script([]byte{0x80}, []byte{0x00, 0xB2, 0x01}, []byte{0x80, 0x50, 0x01, 0x02, 0xFF, 0x01}),
		"load-without-pin":        script(apdus[apduSelect], apdus[apduInitLoad], apdus[apduCredit]),
		"system-pin-then-load":    script(apdus[apduSelect], apdus[apduVerifySystem], apdus[apduInitLoad], apdus[apduCredit]),
		"pin-select-load":         script(apdus[apduSelect], apdus[apduVerify], apdus[apduSelect], apdus[apduInitLoad]),
		"wrong-system-pin-load":   script(apdus[apduSelect], apdus[apduVerifySystem], wrongSys, apdus[apduInitLoad]),
		"get-data":                script(apdus[apduGetData], []byte{0xFF, 0xCA, 0x01, 0x00, 0x00}, []byte{0xFF, 0xCA, 0x00, 0x00, 0x02}),
		"valid-writes":            script(validWrites(t)...),
		"write-replayed":          script(append(validWrites(t)[:3], validWrites(t)[2])...),
	}
	for name, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
