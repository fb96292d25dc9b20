package sim_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

func TestPersistence(t *testing.T) {
	r := newRig(t, "student")
	path := filepath.Join(t.TempDir(), "student.json")
	if err := r.card.Save(path); err != nil {
		t.Fatal(err)
	}
	card, pub := r.tap()
	// Tear after DEBIT: the state file already holds the debit.
	if err := r.card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	out := r.pay(card, pub, 990)
	if out.Kind != epurse.Uncertain {
		t.Fatalf("outcome %v", out.Kind)
	}
	if err := epurse.VerifyPIN(r.ctx, card, "999999"); err == nil {
		t.Fatal("torn card answered")
	}
	before := r.card.Status()

	// "The process died": load the card from its file.
	loaded, err := sim.LoadCard(path)
	if err != nil {
		t.Fatal(err)
	}
	after := loaded.Status()
	if after.Balance != 9010 || after.OfflineCounter != 1 || after.Records != 1 || after.PINTries != before.PINTries || after.Serial != before.Serial {
		t.Fatalf("reloaded %+v, was %+v", after, before)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", st.Mode())
	}
	// PROVE still works on the reloaded card.
	r.card = loaded
	card2, _ := r.tap()
	rec := epurse.Recover(r.ctx, card2, out.Pending)
	if rec.Kind != epurse.Done || rec.TAC != wantTAC(t, out.Pending) {
		t.Fatalf("recover on reloaded card: %v %v", rec.Kind, rec.Err)
	}
	// PIN tries are persisted too.
	if err := epurse.VerifyPIN(r.ctx, card2, "000000"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	again, err := sim.LoadCard(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status().PINTries != 2 {
		t.Fatalf("PIN tries not persisted: %+v", again.Status())
	}
}

func TestSaveFailureRefusesChange(t *testing.T) {
	r := newRig(t, "student")
	dir := filepath.Join(t.TempDir(), "sub")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.json")
	if err := r.card.Save(path); err != nil {
		t.Fatal(err)
	}
	card, pub := r.tap()
	// The "EEPROM" becomes unwritable (even for root): the directory is
	// replaced by a file.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out := r.pay(card, pub, 100)
	if out.Kind == epurse.Done {
		t.Fatal("debit reported although the state could not be written")
	}
	if st := r.card.Status(); st.Balance != 10000 {
		t.Fatalf("balance changed in memory: %+v", st)
	}
}

func TestLoadCardErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbled.json": "{not json",
		"version.json": `{"version": 9}`,
		"keys.json":    `{"version": 1, "profile": {"card_no": "1", "start": "20260101", "expiry": "20270101", "pin": "1234"}}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sim.LoadCard(p); !errors.Is(err, sim.ErrStateFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := sim.LoadCard(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
