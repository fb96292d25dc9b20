package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// The card writes under secure messaging, APDU by APDU: the virtual card
// refuses what a card OS refuses.

// smCard is a fresh demo card with its diversified keys, the e-purse
// selected.
type smCard struct {
	t  *testing.T
	c  *sim.Card
	ck epurse.CardKeys
}

func newSMCard(t *testing.T, alg epurse.Algorithm) *smCard {
	t.Helper()
	d := sim.Catalogue()[0]
	d.Profile.Algorithm = alg
	d.Profile.TxnLimit = 5000
	c, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	c.SetRandom(&counterRand{})
	s := &smCard{t: t, c: c}
	var kerr error
	if s.ck, kerr = testMasterKeys().ForCard(alg, d.Profile.Factor()); kerr != nil {
		t.Fatal(kerr)
	}
	s.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), reader.SWOK)
	return s
}

// send answers one APDU: data and status word. A torn card is a failure.
func (s *smCard) send(cmd []byte) ([]byte, reader.SW) {
	s.t.Helper()
	resp, err := s.c.Respond(cmd)
	if err != nil {
		s.t.Fatalf("% X: %v", cmd, err)
	}
	if len(resp) < 2 {
		s.t.Fatalf("% X: answer % X", cmd, resp)
	}
	n := len(resp) - 2
	return resp[:n], reader.SW(uint16(resp[n])<<8 | uint16(resp[n+1]))
}

func (s *smCard) mustSW(cmd []byte, want reader.SW) []byte {
	s.t.Helper()
	data, got := s.send(cmd)
	if got != want {
		s.t.Fatalf("% X: %v, want %v", cmd, got, want)
	}
	return data
}

func (s *smCard) challenge() [4]byte {
	s.t.Helper()
	ch, err := epurse.ParseChallenge(s.mustSW(epurse.GetChallengeCommand().Bytes(), reader.SWOK))
	if err != nil {
		s.t.Fatal(err)
	}
	return ch
}

// update builds UPDATE BINARY of w with its MAC under key and ch.
func (s *smCard) update(w epurse.BinaryWrite, key []byte, ch [4]byte) []byte {
	s.t.Helper()
	h, err := w.Header()
	if err != nil {
		s.t.Fatal(err)
	}
	mac, err := epurse.SecureMAC(s.c.Profile().Algorithm, key, ch, h[:], w.Data)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd, err := epurse.UpdateBinaryCommand(w.SFI, w.Offset, w.Data, mac)
	if err != nil {
		s.t.Fatal(err)
	}
	return cmd.Bytes()
}

func (s *smCard) block(permanent bool, key []byte, ch [4]byte) []byte {
	h := epurse.AppBlockHeader(permanent)
	mac, _ := epurse.SecureMAC(s.c.Profile().Algorithm, key, ch, h[:])
	return epurse.AppBlockCommand(permanent, mac).Bytes()
}

func (s *smCard) unblock(key []byte, ch [4]byte) []byte {
	h := epurse.AppUnblockHeader()
	mac, _ := epurse.SecureMAC(s.c.Profile().Algorithm, key, ch, h[:])
	return epurse.AppUnblockCommand(mac).Bytes()
}

func (s *smCard) reload(pin string, key []byte) []byte {
	s.t.Helper()
	p, _ := epurse.EncodePIN(pin)
	mac, err := epurse.PINReloadMAC(s.c.Profile().Algorithm, key, p)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd, err := epurse.PINReloadCommand(p, mac)
	if err != nil {
		s.t.Fatal(err)
	}
	return cmd.Bytes()
}

func (s *smCard) campus() epurse.CampusData {
	s.t.Helper()
	d, err := epurse.ParseCampusData(s.mustSW(epurse.ReadBinarySFI(epurse.SFICampus, 0, 0).Bytes(), reader.SWOK))
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// TestSecureUpdate: UPDATE BINARY of 0x12 and 0x15 with the right MAC
// writes exactly its bytes; without a challenge, with a used one, with a
// wrong MAC or without a MAC the card answers 6984 / 6988 / 6987 and the
// files are unchanged.
func TestSecureUpdate(t *testing.T) {
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			s := newSMCard(t, alg)
			if d := s.campus(); d != (epurse.CampusData{TxnLimit: 5000}) {
				t.Fatalf("issued campus file %+v", d)
			}
			lim := epurse.LimitsWrite(8000, 30000)
			ok := s.update(lim, s.ck.DAMK, s.challenge())
			s.mustSW(ok, reader.SWOK)
			if d := s.campus(); d != (epurse.CampusData{TxnLimit: 8000, DailyLimit: 30000}) {
				t.Fatalf("after the write: %+v", d)
			}
			// The challenge was used: the same command again is refused.
			s.mustSW(ok, epurse.SWNoChallenge)
			// A challenge is for the next command only, whatever it is.
			ch := s.challenge()
			s.mustSW(epurse.GetBalanceCommand().Bytes(), reader.SWOK)
			s.mustSW(s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, ch), epurse.SWNoChallenge)
			// A challenge never asked for.
			s.mustSW(s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, [4]byte{}), epurse.SWNoChallenge)
			// A MAC under another key (the block key), and one bit off.
			s.mustSW(s.update(epurse.LimitsWrite(1, 1), s.ck.DABK, s.challenge()), epurse.SWMACWrong)
			bad := s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, s.challenge())
			bad[len(bad)-1] ^= 1
			s.mustSW(bad, epurse.SWMACWrong)
			// Data changed after the MAC was made (the MAC covers it).
			ch = s.challenge()
			forged := s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, ch)
			forged[5] ^= 0x10
			s.mustSW(forged, epurse.SWMACWrong)
			// No MAC at all: plain UPDATE BINARY.
			plain := append([]byte{0x00, 0xD6, 0x80 | epurse.SFICampus, 1, 8}, lim.Data...)
			s.challenge()
			s.mustSW(plain, epurse.SWMACMissing)
			if d := s.campus(); d != (epurse.CampusData{TxnLimit: 8000, DailyLimit: 30000}) {
				t.Fatalf("a refused write changed the file: %+v", d)
			}
			// File 0x15: the status byte and the validity end date.
			ew, _ := epurse.ExpiryWrite([4]byte{0x20, 0x31, 0x08, 0x31})
			s.mustSW(s.update(ew, s.ck.DAMK, s.challenge()), reader.SWOK)
			s.mustSW(s.update(epurse.CardStatusWrite(epurse.CardStatusLocked), s.ck.DAMK, s.challenge()), reader.SWOK)
			pub, err := epurse.ParsePublicData(s.mustSW(epurse.ReadBinarySFI(epurse.SFIPublicData, 0, 0).Bytes(), reader.SWOK))
			if err != nil || pub.End != [4]byte{0x20, 0x31, 0x08, 0x31} || pub.Status != epurse.CardStatusLocked || pub.CardNumber() != sim.DemoStudentNo {
				t.Fatalf("file 0x15 after the writes: %+v %v", pub, err)
			}
			if st := s.c.Status(); st.Expiry != "20310831" || st.CardStatus != epurse.CardStatusLocked || st.TxnLimit != 8000 || st.DailyLimit != 30000 {
				t.Fatalf("status %+v", st)
			}
			if p := s.c.Profile(); p.Expiry != "20310831" || p.Status != epurse.CardStatusLocked || p.CardNumber() != sim.DemoStudentNo {
				t.Fatalf("profile %+v", p)
			}
		})
	}
}

// TestSecureUpdateRefusals: what the card checks of the command itself.
func TestSecureUpdateRefusals(t *testing.T) {
	s := newSMCard(t, epurse.AlgDES)
	mac := func(h []byte, data []byte) []byte {
		ch := s.challenge()
		m, _ := epurse.SecureMAC(epurse.AlgDES, s.ck.DAMK, ch, h, data)
		return append(append(append([]byte(nil), h...), data...), m[:]...)
	}
	for _, tc := range []struct {
		name   string
		header []byte
		data   []byte
		want   reader.SW
	}{
		{"past the end", []byte{0x04, 0xD6, 0x92, 30, 7}, []byte{1, 2, 3}, reader.SWWrongLength},
		{"offset outside", []byte{0x04, 0xD6, 0x92, 40, 5}, []byte{1}, 0x6B00},
		{"file 0x18 is not transparent", []byte{0x04, 0xD6, 0x98, 0, 5}, []byte{1}, reader.SWFileNotFound},
		{"holder file 0x16 is not on the card", []byte{0x04, 0xD6, 0x96, 0, 5}, []byte{1}, reader.SWFileNotFound},
		{"no SFI", []byte{0x04, 0xD6, 0x00, 0, 5}, []byte{1}, reader.SWConditionsNotMet},
		{"MAC only, no data", []byte{0x04, 0xD6, 0x92, 0, 4}, nil, reader.SWWrongLength},
	} {
		if _, got := s.send(mac(tc.header, tc.data)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if d := s.campus(); d != (epurse.CampusData{TxnLimit: 5000}) {
		t.Fatalf("refused writes changed the file: %+v", d)
	}
	// Not selected: the files are the application's.
	s.c.Reset()
	s.challenge()
	if _, got := s.send(s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, [4]byte{})); got != reader.SWFileNotFound {
		t.Fatalf("write without the application selected: %v", got)
	}
}

// TestWriteTears: a tear before or after each write command leaves the
// card old or new, never half: the file as before or as written, the block
// state as before or after, the PIN as before or reloaded. A tear takes
// the challenge with it.
func TestWriteTears(t *testing.T) {
	type step struct {
		name string
		ins  byte
		cmd  func(s *smCard) []byte // GET CHALLENGE (if any) done inside
		// state reads what the command changes.
		state func(s *smCard) string
	}
	file := func(s *smCard) string {
		b, _ := s.c.File(epurse.SFICampus)
		p, _ := s.c.File(epurse.SFIPublicData)
		return string(b) + string(p)
	}
	steps := []step{
		{"update-binary 0x12", sim.InsUpdateBinary, func(s *smCard) []byte {
			return s.update(epurse.LimitsWrite(0x01020304, 0x05060708), s.ck.DAMK, s.challenge())
		}, file},
		{"update-binary 0x15", sim.InsUpdateBinary, func(s *smCard) []byte {
			ew, _ := epurse.ExpiryWrite([4]byte{0x20, 0x40, 0x01, 0x01})
			return s.update(ew, s.ck.DAMK, s.challenge())
		}, file},
		{"app-block", sim.InsAppBlock, func(s *smCard) []byte { return s.block(false, s.ck.DABK, s.challenge()) },
			func(s *smCard) string { return s.c.Status().Blocked }},
		{"pin-reload", sim.InsChangePIN, func(s *smCard) []byte { return s.reload("654321", s.ck.DRPK) },
			func(s *smCard) string { return s.c.Profile().PIN }},
	}
	for _, st := range steps {
		for _, kind := range []sim.FaultKind{sim.TearBefore, sim.TearAfter} {
			t.Run(st.name+"/"+string(kind), func(t *testing.T) {
				s := newSMCard(t, epurse.AlgDES)
				old := st.state(s)
				cmd := st.cmd(s)
				if err := s.c.Arm(sim.Fault{Kind: kind, INS: st.ins}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.c.Respond(cmd); !errors.Is(err, sim.ErrTorn) {
					t.Fatalf("not torn: %v", err)
				}
				got := st.state(s)
				switch {
				case kind == sim.TearBefore && got != old:
					t.Fatalf("torn before, the card changed: %q → %q", old, got)
				case kind == sim.TearAfter && got == old:
					t.Fatalf("torn after, the card did not change")
				}
				// The torn card lost its selection and its challenge.
				s.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), map[bool]reader.SW{true: reader.SWFuncNotSupported, false: reader.SWOK}[got == "temporary"])
				if _, sw := s.send(cmd); sw != epurse.SWNoChallenge && st.ins != sim.InsChangePIN {
					t.Fatalf("the command again after the tear: %v, want 6984", sw)
				}
			})
		}
	}
	// GET CHALLENGE torn after: the challenge never reached the terminal
	// and dies with the power.
	s := newSMCard(t, epurse.AlgDES)
	_ = s.c.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsGetChallenge})
	if _, err := s.c.Respond(epurse.GetChallengeCommand().Bytes()); !errors.Is(err, sim.ErrTorn) {
		t.Fatal(err)
	}
	s.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), reader.SWOK)
	s.mustSW(s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, [4]byte{}), epurse.SWNoChallenge)
}

// TestAppBlock: a blocked application answers SELECT 6A81 with its FCI,
// refuses purchase, load, PIN and writes, still lets the card be read,
// and opens again with APPLICATION UNBLOCK under the unblock key (not the
// block key); a permanent block answers 9303 and stays.
func TestAppBlock(t *testing.T) {
	s := newSMCard(t, epurse.AlgDES)
	s.mustSW(s.block(false, s.ck.DAUK, s.challenge()), epurse.SWMACWrong)
	s.mustSW(s.block(false, s.ck.DABK, [4]byte{}), epurse.SWNoChallenge)
	s.mustSW(s.block(false, s.ck.DABK, s.challenge()), reader.SWOK)
	if st := s.c.Status(); st.Blocked != "temporary" {
		t.Fatalf("status %+v", st)
	}
	// Refused at once, in the same session.
	s.mustSW(epurse.InitPurchaseCommand(1, 100, [6]byte{}).Bytes(), reader.SWFuncNotSupported)
	fci := s.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), reader.SWFuncNotSupported)
	if !bytes.Contains(fci, epurse.AIDKingstar) {
		t.Fatalf("SELECT of the blocked application gave no FCI: % X", fci)
	}
	s.mustSW(epurse.SelectFID(epurse.FIDEPADF).Bytes(), reader.SWFuncNotSupported)
	pin, _ := epurse.VerifyPINCommand("123456")
	for name, cmd := range map[string][]byte{
		"purchase": epurse.InitPurchaseCommand(1, 100, [6]byte{}).Bytes(),
		"load":     epurse.InitLoadCommand(1, 100, [6]byte{}).Bytes(),
		"balance":  epurse.GetBalanceCommand().Bytes(),
		"verify":   pin.Bytes(),
		"reload":   s.reload("111111", s.ck.DRPK),
	} {
		if _, sw := s.send(cmd); sw != reader.SWFuncNotSupported {
			t.Errorf("%s on a blocked application: %v, want 6A81", name, sw)
		}
	}
	s.mustSW(s.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, s.challenge()), reader.SWFuncNotSupported)
	s.mustSW(epurse.ReadBinarySFI(epurse.SFIPublicData, 0, 0).Bytes(), reader.SWOK)
	// Unblock: only under DAUK, with a fresh challenge.
	s.mustSW(s.unblock(s.ck.DABK, s.challenge()), epurse.SWMACWrong)
	s.mustSW(s.unblock(s.ck.DAUK, [4]byte{}), epurse.SWNoChallenge)
	s.mustSW(s.unblock(s.ck.DAUK, s.challenge()), reader.SWOK)
	s.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), reader.SWOK)
	s.mustSW(epurse.InitPurchaseCommand(1, 100, [6]byte{}).Bytes(), reader.SWOK)
	// Unblock of an open application: 9000, nothing changes (a torn
	// unblock is sent again).
	s.mustSW(s.unblock(s.ck.DAUK, s.challenge()), reader.SWOK)
	// Permanently: 9303, no unblock.
	s.mustSW(s.block(true, s.ck.DABK, s.challenge()), reader.SWOK)
	s.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), reader.SWApplicationLocked)
	s.mustSW(s.unblock(s.ck.DAUK, s.challenge()), reader.SWApplicationLocked)
	s.mustSW(s.block(false, s.ck.DABK, s.challenge()), reader.SWOK) // stays permanent
	if st := s.c.Status(); st.Blocked != "permanent" {
		t.Fatalf("status %+v", st)
	}
}

// TestPINReload: PIN RELOAD under DRPK sets a new PIN and resets its tries,
// a blocked PIN too; a wrong MAC changes nothing. CHANGE PIN counts the
// tries of a wrong old PIN (63Cx).
func TestPINReload(t *testing.T) {
	s := newSMCard(t, epurse.AlgDES)
	change, _ := epurse.ChangePINCommand("000000", "222222")
	s.mustSW(change.Bytes(), 0x63C2)
	wrong, _ := epurse.VerifyPINCommand("999999")
	s.mustSW(wrong.Bytes(), 0x63C1)
	s.mustSW(wrong.Bytes(), 0x63C0)
	s.mustSW(wrong.Bytes(), reader.SWAuthBlocked)
	right, _ := epurse.VerifyPINCommand("123456")
	s.mustSW(right.Bytes(), reader.SWAuthBlocked)
	bad := s.reload("654321", s.ck.DRPK)
	bad[len(bad)-1] ^= 1
	s.mustSW(bad, epurse.SWMACWrong)
	s.mustSW(s.reload("654321", s.ck.DAMK), epurse.SWMACWrong)
	if st := s.c.Status(); st.PINTries != 0 {
		t.Fatalf("a refused reload reset the tries: %+v", st)
	}
	s.mustSW(s.reload("654321", s.ck.DRPK), reader.SWOK)
	if st := s.c.Status(); st.PINTries != 3 {
		t.Fatalf("tries after the reload: %+v", st)
	}
	s.mustSW(right.Bytes(), 0x63C2)
	newPIN, _ := epurse.VerifyPINCommand("654321")
	s.mustSW(newPIN.Bytes(), reader.SWOK)
	if st := s.c.Status(); st.PINTries != 3 {
		t.Fatalf("tries after the right PIN: %+v", st)
	}
	// A PIN block that is not digits.
	mac, _ := epurse.PINReloadMAC(epurse.AlgDES, s.ck.DRPK, []byte{0x12, 0x3A})
	s.mustSW(append([]byte{0x80, 0x5E, 0x00, 0x00, 0x06, 0x12, 0x3A}, mac[:]...), reader.SWWrongData)
}

// TestWriteStatePersists: the files, the block state and the PIN written
// are in the state file; a version 2 state file (before card writes)
// loads with its files as issued and refuses secure writes (6A88: the card
// has no write keys).
func TestWriteStatePersists(t *testing.T) {
	s := newSMCard(t, epurse.AlgDES)
	path := filepath.Join(t.TempDir(), "card.json")
	if err := s.c.Save(path); err != nil {
		t.Fatal(err)
	}
	s.mustSW(s.update(epurse.LimitsWrite(7000, 0), s.ck.DAMK, s.challenge()), reader.SWOK)
	s.mustSW(s.block(false, s.ck.DABK, s.challenge()), reader.SWOK)
	loaded, err := sim.LoadCard(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := loaded.Status(); st.TxnLimit != 7000 || st.Blocked != "temporary" {
		t.Fatalf("reloaded %+v", st)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["version"] = 2
	for _, k := range []string{"public", "campus", "blocked"} {
		delete(st, k)
	}
	keys := st["keys"].(map[string]any)
	for _, k := range []string{"DAMK", "DABK", "DAUK", "DRPK"} {
		delete(keys, k)
	}
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v2, err := sim.LoadCard(path)
	if err != nil {
		t.Fatalf("version 2 state file: %v", err)
	}
	old := &smCard{t: t, c: v2, ck: s.ck}
	old.mustSW(epurse.SelectAID(epurse.AIDKingstar).Bytes(), reader.SWOK)
	if d := old.campus(); d != (epurse.CampusData{TxnLimit: 5000}) {
		t.Fatalf("version 2 card's campus file: %+v", d)
	}
	old.mustSW(old.update(epurse.LimitsWrite(1, 1), s.ck.DAMK, old.challenge()), reader.SWRefDataNotFound)
	old.mustSW(old.reload("111111", s.ck.DRPK), reader.SWRefDataNotFound)
	pub := old.mustSW(epurse.ReadBinarySFI(epurse.SFIPublicData, 0, 0).Bytes(), reader.SWOK)
	if !bytes.Equal(pub, v2.Profile().PublicData().Bytes()) {
		t.Fatal("version 2 card's file 0x15 is not its profile's")
	}
	// Broken files are refused with a clear error.
	st["version"] = 3
	st["campus"] = []byte{1, 2, 3}
	b, _ = json.Marshal(st)
	_ = os.WriteFile(path, b, 0o600)
	if _, err := sim.LoadCard(path); !errors.Is(err, sim.ErrStateFile) {
		t.Fatalf("short file 0x12 in a state file: %v", err)
	}
}

// TestWriteFaultNames: the new instructions have names in the control
// interface's faults.
func TestWriteFaultNames(t *testing.T) {
	for name, ins := range map[string]byte{"get-challenge": 0x84, "update-binary": 0xD6, "app-block": 0x1E, "app-unblock": 0x18, "pin-reload": 0x5E} {
		var f sim.Fault
		if err := json.Unmarshal([]byte(`{"kind":"tear-after","ins":"`+name+`"}`), &f); err != nil || f.INS != ins {
			t.Errorf("%s: %+v %v", name, f, err)
		}
	}
	// Two names for 5E: the marshalled one is always the same.
	for range 20 {
		b, _ := json.Marshal(sim.Fault{Kind: sim.TearAfter, INS: 0x5E})
		if !bytes.Contains(b, []byte(`"change-pin"`)) {
			t.Fatalf("5E marshals as %s", b)
		}
	}
}
