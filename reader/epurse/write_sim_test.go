package epurse_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// testWriteKeys computes the write MACs with the test master keys (the
// part the ledger's key service plays; ledger/keys has the product one).
// It records the requests and can be made to fail or to use a wrong key.
type testWriteKeys struct {
	err   error
	wrong bool // MAC under the wrong key
	refs  []epurse.CardRef
}

func (k *testWriteKeys) keys(ref epurse.CardRef) (epurse.CardKeys, error) {
	k.refs = append(k.refs, ref)
	if k.err != nil {
		return epurse.CardKeys{}, k.err
	}
	ck, err := sam.TestKeys().Keys[ref.KeyVersion].ForCard(ref.Algorithm, ref.Serial)
	if k.wrong {
		ck.DAMK, ck.DABK, ck.DAUK, ck.DRPK = ck.DPK, ck.DPK, ck.DPK, ck.DPK
	}
	return ck, err
}

func (k *testWriteKeys) UpdateMAC(_ context.Context, ref epurse.CardRef, ch [4]byte, h [5]byte, data []byte) ([4]byte, error) {
	ck, err := k.keys(ref)
	if err != nil {
		return [4]byte{}, err
	}
	return epurse.SecureMAC(ref.Algorithm, ck.DAMK, ch, h[:], data)
}

func (k *testWriteKeys) BlockMAC(_ context.Context, ref epurse.CardRef, ch [4]byte, h [5]byte) ([4]byte, error) {
	ck, err := k.keys(ref)
	if err != nil {
		return [4]byte{}, err
	}
	return epurse.SecureMAC(ref.Algorithm, ck.DABK, ch, h[:])
}

func (k *testWriteKeys) UnblockMAC(_ context.Context, ref epurse.CardRef, ch [4]byte, h [5]byte) ([4]byte, error) {
	ck, err := k.keys(ref)
	if err != nil {
		return [4]byte{}, err
	}
	return epurse.SecureMAC(ref.Algorithm, ck.DAUK, ch, h[:])
}

func (k *testWriteKeys) PINReloadMAC(_ context.Context, ref epurse.CardRef, pin []byte) ([4]byte, error) {
	ck, err := k.keys(ref)
	if err != nil {
		return [4]byte{}, err
	}
	return epurse.PINReloadMAC(ref.Algorithm, ck.DRPK, pin)
}

var _ epurse.WriteKeys = (*testWriteKeys)(nil)

// ref reads the card's key version and algorithm as a kiosk does.
func (w *world) ref(card reader.Card) epurse.CardRef {
	w.t.Helper()
	ref, err := epurse.ReadCardRef(w.ctx, card, kioskID, w.pub.Factor())
	if err != nil {
		w.t.Fatal(err)
	}
	return ref
}

// TestWriteHelpers: 调整限额, 延期 and 解挂 on the strict virtual card with
// the helpers: Done writes what the card then reads; a wrong MAC is
// Refused with ErrMACInvalid and writes nothing; a failing MAC source is
// Refused before the write was sent.
func TestWriteHelpers(t *testing.T) {
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			w := newWorld(t, func(p *sim.Profile) { p.Algorithm, p.Status, p.TxnLimit = alg, epurse.CardStatusLocked, 5000 })
			keys := &testWriteKeys{}
			card := w.tap()
			ref := w.ref(card)
			if ref != (epurse.CardRef{Serial: w.pub.Factor(), KeyVersion: 1, Algorithm: alg}) {
				t.Fatalf("card ref %+v", ref)
			}
			if out := epurse.UpdateBinary(w.ctx, card, keys, ref, epurse.LimitsWrite(10000, 50000)); out.Kind != epurse.Done || !out.Sent || out.Err != nil {
				t.Fatalf("limits: %+v", out)
			}
			ew, _ := epurse.ExpiryWrite([4]byte{0x20, 0x31, 0x08, 0x31})
			if out := epurse.UpdateBinary(w.ctx, card, keys, ref, ew); out.Kind != epurse.Done {
				t.Fatalf("expiry: %+v", out)
			}
			pub, err := epurse.ReadPublicData(w.ctx, card)
			if err != nil {
				t.Fatal(err)
			}
			writes := epurse.UnfreezeWrites(pub, 77)
			if len(writes) != 2 {
				t.Fatalf("unfreeze of a locked card: %d writes", len(writes))
			}
			for _, wr := range writes {
				if out := epurse.UpdateBinary(w.ctx, card, keys, ref, wr); out.Kind != epurse.Done {
					t.Fatalf("unfreeze %+v: %+v", wr, out)
				}
				if chk := epurse.CheckWrite(w.ctx, card, wr); chk.Kind != epurse.Done {
					t.Fatalf("check %+v: %+v", wr, chk)
				}
			}
			d, err := epurse.ReadCampusData(w.ctx, card)
			if err != nil || d != (epurse.CampusData{TxnLimit: 10000, DailyLimit: 50000, StatusListVersion: 77}) {
				t.Fatalf("campus file %+v %v", d, err)
			}
			pub, err = epurse.ReadPublicData(w.ctx, card)
			if err != nil || pub.Status != epurse.CardStatusNormal || pub.End != [4]byte{0x20, 0x31, 0x08, 0x31} {
				t.Fatalf("file 0x15 %+v %v", pub, err)
			}

			keys.wrong = true
			out := epurse.UpdateBinary(w.ctx, card, keys, ref, epurse.LimitsWrite(1, 1))
			var se *reader.StatusError
			if out.Kind != epurse.Refused || !out.Sent || !errors.Is(out.Err, epurse.ErrMACInvalid) || !errors.As(out.Err, &se) || se.SW != 0x6988 {
				t.Fatalf("wrong MAC: %+v", out)
			}
			if epurse.ReasonCode(out.Err) != "mac-invalid" {
				t.Errorf("reason %q", epurse.ReasonCode(out.Err))
			}
			keys.wrong, keys.err = false, errors.New("key service down")
			if out := epurse.UpdateBinary(w.ctx, card, keys, ref, epurse.LimitsWrite(1, 1)); out.Kind != epurse.Refused || out.Sent {
				t.Fatalf("MAC source failing: %+v", out)
			}
			if st := w.card.Status(); st.TxnLimit != 10000 {
				t.Fatalf("a refused write wrote: %+v", st)
			}
			if out := epurse.UpdateBinary(w.ctx, card, keys, ref, epurse.BinaryWrite{SFI: epurse.SFICampus}); out.Kind != epurse.Refused || !errors.Is(out.Err, epurse.ErrBadRequest) {
				t.Fatalf("empty write: %+v", out)
			}
		})
	}
}

// TestWriteTornRecovery: a write torn before the card executed it is
// Uncertain and CheckWrite finds it not done (Void); torn after, it is
// Uncertain and CheckWrite finds it done. Sent again, a write is simply
// done again.
func TestWriteTornRecovery(t *testing.T) {
	for _, kind := range []sim.FaultKind{sim.TearBefore, sim.TearAfter} {
		t.Run(string(kind), func(t *testing.T) {
			w := newWorld(t, nil)
			keys := &testWriteKeys{}
			card := w.tap()
			ref := w.ref(card)
			wr := epurse.LimitsWrite(9000, 0)
			if err := w.card.Arm(sim.Fault{Kind: kind, INS: sim.InsUpdateBinary}); err != nil {
				t.Fatal(err)
			}
			out := epurse.UpdateBinary(w.ctx, card, keys, ref, wr)
			if out.Kind != epurse.Uncertain || !out.Sent || !errors.Is(out.Err, sim.ErrTorn) {
				t.Fatalf("torn write: %+v", out)
			}
			card = w.tap()
			chk := epurse.CheckWrite(w.ctx, card, wr)
			want := map[sim.FaultKind]epurse.OutcomeKind{sim.TearBefore: epurse.Void, sim.TearAfter: epurse.Done}[kind]
			if chk.Kind != want {
				t.Fatalf("check after %s: %+v, want %v", kind, chk, want)
			}
			if out := epurse.UpdateBinary(w.ctx, card, keys, ref, wr); out.Kind != epurse.Done {
				t.Fatalf("sent again: %+v", out)
			}
			if st := w.card.Status(); st.TxnLimit != 9000 {
				t.Fatalf("after the retry: %+v", st)
			}
		})
	}
	// Torn at GET CHALLENGE: nothing was sent, the write is Refused.
	w := newWorld(t, nil)
	card := w.tap()
	ref := w.ref(card)
	_ = w.card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsGetChallenge})
	if out := epurse.UpdateBinary(w.ctx, card, &testWriteKeys{}, ref, epurse.LimitsWrite(1, 1)); out.Kind != epurse.Refused || out.Sent {
		t.Fatalf("torn at GET CHALLENGE: %+v", out)
	}
}

// TestBlockHelpers: a blocked application is refused at SELECT
// (ErrAppBlocked) and at purchase; unblocked, it pays again; a permanent
// block is ErrLocked and cannot be unblocked. A torn block or unblock is
// settled by SELECT and sent again.
func TestBlockHelpers(t *testing.T) {
	w := newWorld(t, nil)
	keys := &testWriteKeys{}
	card := w.tap()
	ref := w.ref(card)
	if out := epurse.BlockApplication(w.ctx, card, keys, ref, false); out.Kind != epurse.Done {
		t.Fatalf("block: %+v", out)
	}
	if out := epurse.Pay(w.ctx, card, w.a, w.req(100, 0), nil); out.Kind != epurse.Refused {
		t.Fatalf("purchase right after the block: %v %v", out.Kind, out.Err)
	}
	w.card.Reset()
	c := simCard{w.card}
	_, err := epurse.Select(w.ctx, c, epurse.AIDKingstar)
	if !errors.Is(err, epurse.ErrAppBlocked) || errors.Is(err, epurse.ErrLocked) || epurse.ReasonCode(err) != "app-blocked" {
		t.Fatalf("SELECT of a blocked application: %v", err)
	}
	if out := epurse.Pay(w.ctx, c, w.a, w.req(100, 0), nil); out.Kind != epurse.Refused {
		t.Fatalf("purchase on a blocked application: %v %v", out.Kind, out.Err)
	}
	if st := w.card.Status(); st.Balance != 10000 || st.OfflineCounter != 0 {
		t.Fatalf("a blocked card was debited: %+v", st)
	}
	// Unblock torn after: SELECT shows it done; sent again it is Done.
	_ = w.card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsAppUnblock})
	if out := epurse.UnblockApplication(w.ctx, c, keys, ref); out.Kind != epurse.Uncertain {
		t.Fatalf("torn unblock: %+v", out)
	}
	w.card.Reset()
	if _, err := epurse.Select(w.ctx, c, epurse.AIDKingstar); err != nil {
		t.Fatalf("SELECT after a torn unblock that happened: %v", err)
	}
	if out := epurse.UnblockApplication(w.ctx, c, keys, ref); out.Kind != epurse.Done {
		t.Fatalf("unblock again: %+v", out)
	}
	if out := epurse.Pay(w.ctx, c, w.a, w.req(100, 0), nil); out.Kind != epurse.Done {
		t.Fatalf("purchase after the unblock: %v %v", out.Kind, out.Err)
	}
	// Permanently.
	if out := epurse.BlockApplication(w.ctx, c, keys, ref, true); out.Kind != epurse.Done {
		t.Fatalf("permanent block: %+v", out)
	}
	w.card.Reset()
	if _, err := epurse.Select(w.ctx, c, epurse.AIDKingstar); !errors.Is(err, epurse.ErrAppBlocked) || !errors.Is(err, epurse.ErrLocked) {
		t.Fatalf("SELECT of a permanently blocked application: %v", err)
	}
	if out := epurse.UnblockApplication(w.ctx, c, keys, ref); out.Kind != epurse.Refused || !errors.Is(out.Err, epurse.ErrLocked) {
		t.Fatalf("unblock of a permanent block: %+v", out)
	}
}

// TestReloadPINHelper: after three wrong PINs the holder's PIN is blocked;
// PIN RELOAD sets the new one and the tries are back to three.
func TestReloadPINHelper(t *testing.T) {
	w := newWorld(t, nil)
	card := w.tap()
	ref := w.ref(card)
	for i := range 3 {
		err := epurse.VerifyPIN(w.ctx, card, "000000")
		var pe *epurse.PINError
		if i < 2 && (!errors.As(err, &pe) || pe.Retries != 2-i) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if err := epurse.VerifyPIN(w.ctx, card, "123456"); !errors.Is(err, epurse.ErrLocked) {
		t.Fatalf("blocked PIN: %v", err)
	}
	if out := epurse.ReloadPIN(w.ctx, card, &testWriteKeys{wrong: true}, ref, "246810"); out.Kind != epurse.Refused || !errors.Is(out.Err, epurse.ErrMACInvalid) {
		t.Fatalf("reload with a wrong MAC: %+v", out)
	}
	if out := epurse.ReloadPIN(w.ctx, card, &testWriteKeys{}, ref, "24a"); out.Kind != epurse.Refused || out.Sent || !errors.Is(out.Err, epurse.ErrBadRequest) {
		t.Fatalf("reload of a bad PIN: %+v", out)
	}
	if out := epurse.ReloadPIN(w.ctx, card, &testWriteKeys{}, ref, "246810"); out.Kind != epurse.Done {
		t.Fatalf("reload: %+v", out)
	}
	if st := w.card.Status(); st.PINTries != 3 {
		t.Fatalf("tries after the reload: %+v", st)
	}
	if err := epurse.VerifyPIN(w.ctx, card, "246810"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
	if err := epurse.ChangePIN(w.ctx, card, "000000", "111111"); !errors.As(err, new(*epurse.PINError)) {
		t.Fatalf("CHANGE PIN with a wrong old PIN: %v", err)
	}
}
