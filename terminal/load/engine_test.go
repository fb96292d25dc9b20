package load_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/load"
)

// TestNewFailsClosed: an engine needs a store and a SAM; without a
// ledger it claims nothing (ErrNoLedger, ledger_unreachable) and Startup
// still marks the open intents uncertain.
func TestNewFailsClosed(t *testing.T) {
	store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "pos-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load.New(load.Options{Store: store}); err == nil {
		t.Fatal("an engine without a SAM")
	}
	if _, err := load.New(load.Options{SAM: s}); err == nil {
		t.Fatal("an engine without a store")
	}
	if _, err := load.New(load.Options{Store: store, SAM: s, KeyIndex: 256}); err == nil {
		t.Fatal("key index 256 accepted")
	}
	l, err := store.BeginLoad(offline.LoadIntent{CardNo: "10012026090100000001", Amount: 100, BalanceBefore: 0, CardCounter: 1,
		TerminalID: make([]byte, 6), TxTime: make([]byte, 7), CardSerial: make([]byte, 8), KeyIndex: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AuthorizeLoad(l.ID, "1", make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	e, err := load.New(load.Options{Store: store, SAM: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Startup(context.Background()); err != nil {
		t.Fatal(err)
	}
	ls, err := store.Loads()
	if err != nil || len(ls) != 1 || ls[0].State != offline.LoadUncertain {
		t.Fatalf("after startup: %+v %v", ls, err)
	}
	res, err := e.Claim(context.Background(), nil, cardread.Info{CardNo: "10012026090100000001", Balance: 700}, 0)
	if !errors.Is(err, load.ErrNoLedger) || res.Outcome != load.Refused || res.Code != load.CodeLedgerOffline || res.Balance != 700 {
		t.Fatalf("claim without a ledger: %+v %v", res, err)
	}
}
