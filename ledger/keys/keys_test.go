package keys_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
)

var serial = [8]byte{0x20, 0x26, 0x09, 0x01, 0x00, 0x00, 0x00, 0x01}

// session makes a card's INITIALIZE FOR LOAD answer the way the card
// computes it (its own diversified DLK), for the service to check.
func session(t *testing.T, alg epurse.Algorithm) (keys.LoadSession, []byte) {
	t.Helper()
	ck, err := sam.TestKeys().Keys[1].ForCard(alg, serial)
	if err != nil {
		t.Fatal(err)
	}
	ls := keys.LoadSession{Card: keys.Card{KeyVersion: 1, Algorithm: alg, Serial: serial}, Random: [4]byte{1, 2, 3, 4},
		OnlineCounter: 7, BalanceBefore: 1500, Amount: 2000, TerminalID: [6]byte{0, 0, 0, 0, 0x4B, 1}}
	sk, err := epurse.LoadSessionKey(alg, ck.DLK, ls.Random, ls.OnlineCounter)
	if err != nil {
		t.Fatal(err)
	}
	if ls.MAC1, err = epurse.LoadMAC1(alg, sk, ls.BalanceBefore, ls.Amount, ls.TerminalID); err != nil {
		t.Fatal(err)
	}
	return ls, sk
}

// TestSoftwareLoad: MAC1 of the card verifies, MAC2 is the card's
// expected one, and nothing is given for a MAC1 that is not the card's.
func TestSoftwareLoad(t *testing.T) {
	ctx := context.Background()
	s := keys.NewSoftware(sam.TestKeys().Keys)
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		ls, sk := session(t, alg)
		if err := s.VerifyLoadMAC1(ctx, ls); err != nil {
			t.Fatalf("%v: MAC1: %v", alg, err)
		}
		dt := epurse.DateTime{0x20, 0x26, 0x09, 0x14, 0x12, 0x30, 0x00}
		mac2, err := s.LoadMAC2(ctx, ls, dt)
		want, _ := epurse.LoadMAC2(alg, sk, ls.Amount, ls.TerminalID, dt)
		if err != nil || mac2 != want {
			t.Fatalf("%v: MAC2 %X %v, want %X", alg, mac2, err, want)
		}
		bad := ls
		bad.Amount++ // the kiosk asks more than the card's MAC1 covers
		if err := s.VerifyLoadMAC1(ctx, bad); !errors.Is(err, keys.ErrMismatch) {
			t.Errorf("%v: MAC1 over another amount: %v", alg, err)
		}
		if m, err := s.LoadMAC2(ctx, bad, dt); !errors.Is(err, keys.ErrMismatch) || m != ([4]byte{}) {
			t.Errorf("%v: MAC2 without a good MAC1: %X %v", alg, m, err)
		}
	}
	ls, _ := session(t, epurse.AlgDES)
	ls.Card.KeyVersion = 9
	if err := s.VerifyLoadMAC1(ctx, ls); !errors.Is(err, keys.ErrNoKey) {
		t.Errorf("unknown key version: %v", err)
	}
	ls.Card.KeyVersion, ls.Card.Algorithm = 1, epurse.Algorithm(9)
	if err := s.VerifyLoadMAC1(ctx, ls); !errors.Is(err, keys.ErrUnsupportedAlg) {
		t.Errorf("unknown algorithm: %v", err)
	}
	if err := keys.NewSoftware(nil).VerifyLoadMAC1(ctx, ls); err == nil {
		t.Error("a service without keys verified a MAC1")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.VerifyLoadMAC1(cctx, ls); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestSoftwareTACs: purchase and load TACs computed with the card's DTK
// verify; one flipped bit does not.
func TestSoftwareTACs(t *testing.T) {
	ctx := context.Background()
	s := keys.NewSoftware(sam.TestKeys().Keys)
	ck, _ := sam.TestKeys().Keys[1].ForCard(epurse.AlgDES, serial)
	card := keys.Card{KeyVersion: 1, Algorithm: epurse.AlgDES, Serial: serial}
	dt := epurse.DateTime{0x20, 0x26, 0x09, 0x14, 0x12, 0x30, 0x00}
	term := [6]byte{0, 0, 0, 0, 0x50, 1}
	ptac, _ := epurse.PurchaseTAC(epurse.AlgDES, ck.DTK, 350, term, 42, dt)
	p := keys.PurchaseTAC{Card: card, Amount: 350, TerminalID: term, TerminalSeq: 42, Time: dt, TAC: ptac}
	if err := s.VerifyPurchaseTAC(ctx, p); err != nil {
		t.Fatalf("purchase TAC: %v", err)
	}
	p.TAC[3] ^= 1
	if err := s.VerifyPurchaseTAC(ctx, p); !errors.Is(err, keys.ErrMismatch) {
		t.Errorf("bad purchase TAC: %v", err)
	}
	ltac, _ := epurse.LoadTAC(epurse.AlgDES, ck.DTK, 3500, 7, 2000, term, dt)
	l := keys.LoadTAC{Card: card, BalanceAfter: 3500, OnlineCounter: 7, Amount: 2000, TerminalID: term, Time: dt, TAC: ltac}
	if err := s.VerifyLoadTAC(ctx, l); err != nil {
		t.Fatalf("load TAC: %v", err)
	}
	l.BalanceAfter++
	if err := s.VerifyLoadTAC(ctx, l); !errors.Is(err, keys.ErrMismatch) {
		t.Errorf("load TAC over another balance: %v", err)
	}
	l.Card.KeyVersion = 3
	if err := s.VerifyLoadTAC(ctx, l); !errors.Is(err, keys.ErrNoKey) {
		t.Errorf("unknown key version: %v", err)
	}
}

// TestSoftwareSystemPIN: the vector of reader/epurse (the SAMs derive the
// same PIN).
func TestSoftwareSystemPIN(t *testing.T) {
	s := keys.NewSoftware(sam.TestKeys().Keys)
	pin, err := s.SystemPIN(context.Background(), epurse.SystemPINRequest{CardSerial: serial, KeyVersion: 1, Algorithm: epurse.AlgDES})
	if err != nil || hex.EncodeToString(pin) != "069149" {
		t.Fatalf("system PIN %X %v", pin, err)
	}
	noPIN := map[byte]epurse.Keys{1: {Purchase: make([]byte, 16), Load: make([]byte, 16), TAC: make([]byte, 16)}}
	_, err = keys.NewSoftware(noPIN).SystemPIN(context.Background(), epurse.SystemPINRequest{CardSerial: serial, KeyVersion: 1})
	if !errors.Is(err, keys.ErrNoKey) || !errors.Is(err, epurse.ErrNoSystemPIN) {
		t.Errorf("no system_pin key: %v", err)
	}
}

// TestSoftwareHolder: the PVV depends on the secret, the account, the salt
// and the PIN; ID digests on the normalised number.
func TestSoftwareHolder(t *testing.T) {
	ctx := context.Background()
	h, err := keys.NewSoftwareHolder(bytes.Repeat([]byte{7}, keys.HolderKeySize))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keys.NewSoftwareHolder(bytes.Repeat([]byte{8}, keys.HolderKeySize))
	salt := []byte("0123456789abcdef")
	base, _ := h.PINVerificationValue(ctx, "A1", salt, []byte("123456"))
	again, _ := h.PINVerificationValue(ctx, "A1", salt, []byte("123456"))
	if len(base) != 32 || !bytes.Equal(base, again) {
		t.Fatalf("PVV %X, again %X", base, again)
	}
	for name, f := range map[string]func() ([]byte, error){
		"other pin":     func() ([]byte, error) { return h.PINVerificationValue(ctx, "A1", salt, []byte("123457")) },
		"other salt":    func() ([]byte, error) { return h.PINVerificationValue(ctx, "A1", []byte("x"), []byte("123456")) },
		"other account": func() ([]byte, error) { return h.PINVerificationValue(ctx, "A2", salt, []byte("123456")) },
		"other secret":  func() ([]byte, error) { return other.PINVerificationValue(ctx, "A1", salt, []byte("123456")) },
	} {
		if v, err := f(); err != nil || bytes.Equal(v, base) {
			t.Errorf("%s: the same PVV (%v)", name, err)
		}
	}
	a, _ := h.IDDigest(ctx, "11010519491231002x")
	b, _ := h.IDDigest(ctx, " 110105 19491231 002X ")
	c, _ := other.IDDigest(ctx, "11010519491231002X")
	if !bytes.Equal(a, b) || bytes.Equal(a, c) || bytes.Contains(a, []byte("1101")) {
		t.Errorf("ID digests %X %X %X", a, b, c)
	}
	if _, err := keys.NewSoftwareHolder([]byte("short")); err == nil {
		t.Error("a short secret was taken")
	}
}

// TestHolderKeyFile: made once (0600), read back the same, refused when
// readable by others or damaged.
func TestHolderKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "holder.key")
	k1, err := keys.LoadOrCreateHolderKey(path)
	if err != nil || len(k1) != keys.HolderKeySize {
		t.Fatalf("create: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", st.Mode().Perm())
	}
	k2, err := keys.LoadOrCreateHolderKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("read back: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadOrCreateHolderKey(path); err == nil {
		t.Error("a key readable by others was taken")
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "zz", "00"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.LoadOrCreateHolderKey(path); err == nil {
			t.Errorf("holder key %q taken", bad)
		}
	}
}
