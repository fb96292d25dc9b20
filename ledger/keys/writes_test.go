package keys_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// The key service's card-write MACs are epurse.SecureMAC and
// epurse.PINReloadMAC (checked against the published card logs in
// reader/epurse/testdata/sm-vectors.json) under the card's keys
// diversified from the master keys: these tests check that composition
// and the refusals, and that the strict virtual card accepts the writes.

// TestSoftwareWriteMACs: each MAC is the one the card computes under its
// own diversified key, for both algorithms.
func TestSoftwareWriteMACs(t *testing.T) {
	ctx := context.Background()
	s := keys.NewSoftware(sam.TestKeys().Keys)
	ch := [4]byte{0x1E, 0xA2, 0xB2, 0xE6}
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		ck, err := sam.TestKeys().Keys[1].ForCard(alg, serial)
		if err != nil {
			t.Fatal(err)
		}
		ref := epurse.CardRef{Serial: serial, KeyVersion: 1, Algorithm: alg}
		w := epurse.LimitsWrite(5000, 0)
		h, _ := w.Header()
		got, err := s.UpdateMAC(ctx, ref, ch, h, w.Data)
		want, _ := epurse.SecureMAC(alg, ck.DAMK, ch, h[:], w.Data)
		if err != nil || got != want {
			t.Errorf("%v: update MAC %X %v, want %X", alg, got, err, want)
		}
		for _, perm := range []bool{false, true} {
			bh := epurse.AppBlockHeader(perm)
			got, err = s.BlockMAC(ctx, ref, ch, bh)
			want, _ = epurse.SecureMAC(alg, ck.DABK, ch, bh[:])
			if err != nil || got != want {
				t.Errorf("%v: block MAC %X %v, want %X", alg, got, err, want)
			}
		}
		uh := epurse.AppUnblockHeader()
		got, err = s.UnblockMAC(ctx, ref, ch, uh)
		want, _ = epurse.SecureMAC(alg, ck.DAUK, ch, uh[:])
		if err != nil || got != want {
			t.Errorf("%v: unblock MAC %X %v, want %X", alg, got, err, want)
		}
		pin, _ := epurse.EncodePIN("123456")
		got, err = s.PINReloadMAC(ctx, ref, pin)
		want, _ = epurse.PINReloadMAC(alg, ck.DRPK, pin)
		if err != nil || got != want {
			t.Errorf("%v: pin reload MAC %X %v, want %X", alg, got, err, want)
		}
		// Another card's serial gives another MAC: keys are per card.
		other := ref
		other.Serial[7] ^= 1
		if m, _ := s.UpdateMAC(ctx, other, ch, h, w.Data); m == want {
			t.Errorf("%v: the same MAC for another card", alg)
		}
	}
}

// TestSoftwareWriteRefusals: a header that is not the key's command, a key
// set without write keys, an unknown key version or algorithm, a PIN
// block that is not digits, a cancelled context: no MAC.
func TestSoftwareWriteRefusals(t *testing.T) {
	ctx := context.Background()
	s := keys.NewSoftware(sam.TestKeys().Keys)
	ref := epurse.CardRef{Serial: serial, KeyVersion: 1, Algorithm: epurse.AlgDES}
	var ch [4]byte
	data := []byte{1, 2, 3, 4}
	good, _ := epurse.UpdateBinaryHeader(epurse.SFICampus, 1, len(data))
	pin, _ := epurse.EncodePIN("123456")
	mk := sam.TestKeys().Keys[1]
	mk.Maintenance, mk.AppBlock, mk.AppUnblock, mk.PINReload = nil, nil, nil, nil
	bare := keys.NewSoftware(map[byte]epurse.Keys{1: mk})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	wrongLc := good
	wrongLc[4]++
	plain := good
	plain[0] = 0x00
	noSFI := good
	noSFI[2] = epurse.SFICampus
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"update: Lc not data+4", func() error { _, err := s.UpdateMAC(ctx, ref, ch, wrongLc, data); return err }(), keys.ErrBadCommand},
		{"update: CLA 00", func() error { _, err := s.UpdateMAC(ctx, ref, ch, plain, data); return err }(), keys.ErrBadCommand},
		{"update: no SFI bit", func() error { _, err := s.UpdateMAC(ctx, ref, ch, noSFI, data); return err }(), keys.ErrBadCommand},
		{"update: the block header", func() error { _, err := s.UpdateMAC(ctx, ref, ch, epurse.AppBlockHeader(false), nil); return err }(), keys.ErrBadCommand},
		{"block: the unblock header", func() error { _, err := s.BlockMAC(ctx, ref, ch, epurse.AppUnblockHeader()); return err }(), keys.ErrBadCommand},
		{"unblock: the block header", func() error { _, err := s.UnblockMAC(ctx, ref, ch, epurse.AppBlockHeader(false)); return err }(), keys.ErrBadCommand},
		{"reload: not BCD", func() error { _, err := s.PINReloadMAC(ctx, ref, []byte{0xAB}); return err }(), keys.ErrBadCommand},
		{"update: no maintenance key", func() error { _, err := bare.UpdateMAC(ctx, ref, ch, good, data); return err }(), keys.ErrNoKey},
		{"block: no block key", func() error { _, err := bare.BlockMAC(ctx, ref, ch, epurse.AppBlockHeader(false)); return err }(), keys.ErrNoKey},
		{"unblock: no unblock key", func() error { _, err := bare.UnblockMAC(ctx, ref, ch, epurse.AppUnblockHeader()); return err }(), keys.ErrNoKey},
		{"reload: no reload key", func() error { _, err := bare.PINReloadMAC(ctx, ref, pin); return err }(), keys.ErrNoKey},
		{"unknown key version", func() error {
			r := ref
			r.KeyVersion = 9
			_, err := s.UpdateMAC(ctx, r, ch, good, data)
			return err
		}(), keys.ErrNoKey},
		{"unknown algorithm", func() error {
			r := ref
			r.Algorithm = 7
			_, err := s.UnblockMAC(ctx, r, ch, epurse.AppUnblockHeader())
			return err
		}(), keys.ErrUnsupportedAlg},
		{"cancelled", func() error { _, err := s.PINReloadMAC(cancelled, ref, pin); return err }(), context.Canceled},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

type simCard struct{ c *sim.Card }

func (s simCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return s.c.Respond(cmd) }

// TestWritesOnStrictCard: end to end, the key service's MACs through the
// epurse helpers to the strict virtual card: the writes are accepted, a
// card of another key version is refused by the card (wrong MAC), and the
// ledger's issuer key file parser reads the same write keys as the SAM's.
func TestWritesOnStrictCard(t *testing.T) {
	ctx := context.Background()
	s := keys.NewSoftware(sam.TestKeys().Keys)
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			d := sim.Catalogue()[0]
			d.Profile.Algorithm, d.Profile.Status = alg, epurse.CardStatusLocked
			c, err := d.Issue()
			if err != nil {
				t.Fatal(err)
			}
			card := simCard{c}
			if _, err := epurse.Select(ctx, card, epurse.AIDKingstar); err != nil {
				t.Fatal(err)
			}
			pub, err := epurse.ReadPublicData(ctx, card)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := epurse.ReadCardRef(ctx, card, [6]byte{0, 0, 0, 0, 0, 0xC3}, pub.Factor())
			if err != nil {
				t.Fatal(err)
			}
			writes := append([]epurse.BinaryWrite{epurse.LimitsWrite(8000, 40000)}, epurse.UnfreezeWrites(pub, 12)...)
			for _, w := range writes {
				if out := epurse.UpdateBinary(ctx, card, s, ref, w); out.Kind != epurse.Done {
					t.Fatalf("write %+v: %+v", w, out)
				}
			}
			if st := c.Status(); st.TxnLimit != 8000 || st.DailyLimit != 40000 || st.ListVersion != 12 || st.CardStatus != epurse.CardStatusNormal {
				t.Fatalf("after the writes: %+v", st)
			}
			if out := epurse.BlockApplication(ctx, card, s, ref, false); out.Kind != epurse.Done {
				t.Fatalf("block: %+v", out)
			}
			c.Reset()
			if _, err := epurse.Select(ctx, card, epurse.AIDKingstar); !errors.Is(err, epurse.ErrAppBlocked) {
				t.Fatalf("SELECT after the block: %v", err)
			}
			if out := epurse.UnblockApplication(ctx, card, s, ref); out.Kind != epurse.Done {
				t.Fatalf("unblock: %+v", out)
			}
			if out := epurse.ReloadPIN(ctx, card, s, ref, "135790"); out.Kind != epurse.Done {
				t.Fatalf("reload: %+v", out)
			}
			if err := epurse.VerifyPIN(ctx, card, "135790"); err != nil {
				t.Fatalf("the reloaded PIN: %v", err)
			}
			// Keys of another issuer key set: the card refuses the MAC.
			other := sam.TestKeys().Keys[1]
			other.Maintenance = append([]byte(nil), other.Load...)
			wrong := keys.NewSoftware(map[byte]epurse.Keys{1: other})
			out := epurse.UpdateBinary(ctx, card, wrong, ref, epurse.LimitsWrite(1, 1))
			var se *reader.StatusError
			if out.Kind != epurse.Refused || !errors.Is(out.Err, epurse.ErrMACInvalid) || !errors.As(out.Err, &se) || se.SW != epurse.SWMACWrong {
				t.Fatalf("MAC of another key: %+v", out)
			}
			if st := c.Status(); st.TxnLimit != 8000 {
				t.Fatalf("a refused write wrote: %+v", st)
			}
		})
	}

	// The ledger reads the write keys of the test key file as the SAM does.
	b, err := os.ReadFile(filepath.Join("..", "..", "reader", "sam", "testdata", "keys-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	lk, err := ledger.ParseIssuerKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	want := sam.TestKeys().Keys[1]
	got := lk[1]
	for name, pair := range map[string][2][]byte{
		"maintenance": {got.Maintenance, want.Maintenance}, "app_block": {got.AppBlock, want.AppBlock},
		"app_unblock": {got.AppUnblock, want.AppUnblock}, "pin_reload": {got.PINReload, want.PINReload},
	} {
		if len(pair[0]) != 16 || string(pair[0]) != string(pair[1]) {
			t.Errorf("%s: ledger %X, sam %X", name, pair[0], pair[1])
		}
	}
	if _, err := ledger.ParseIssuerKeys([]byte(`{"keys":[{"version":1,"purchase":"` + hex16 + `","load":"` + hex16 + `","tac":"` + hex16 + `","maintenance":"00"}]}`)); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("short maintenance key: %v", err)
	}
}

const hex16 = "00112233445566778899AABBCCDDEEFF"
