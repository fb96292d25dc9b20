package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// TestDemoKeepsUncertainWhenRecoveryCannotTell: a recovery that is still
// uncertain leaves the intent uncertain; it is not an error that stops the
// terminal, and it does not journal a second uncertain record.
func TestDemoKeepsUncertainWhenRecoveryCannotTell(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := newDemo(ctx, filepath.Join(t.TempDir(), "y.db"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer d.store.Close()
	in, err := d.store.OpenIntent(intentOf("c1", testPending()))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.book(in, epurse.PurchaseOutcome{Kind: epurse.Uncertain, Err: reader.ErrCardRemoved}); err != nil {
		t.Fatal(err)
	}
	unc, err := d.store.FindUncertain("c1")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := d.store.Head()
	// The card came back, but recovery could not tell (counter moved by two).
	if err := d.book(unc, epurse.PurchaseOutcome{Kind: epurse.Uncertain, Err: errors.New("cannot tell")}); err != nil {
		t.Fatalf("recovery still uncertain: %v", err)
	}
	if after, _ := d.store.Head(); after.Seq != before.Seq {
		t.Errorf("journaled %d more records", after.Seq-before.Seq)
	}
	if again, err := d.store.FindUncertain("c1"); err != nil || again.ID != in.ID {
		t.Fatalf("intent after a still-uncertain recovery: %+v, %v", again, err)
	}
}

// TestDemoTakesOverOpenIntentsAtStart: an intent left open by a run that
// stopped between OpenIntent and its outcome (power cut, crash, a lost group
// commit of the completion) is uncertain for the next run, so the card's
// next tap resolves it before selling again.
func TestDemoTakesOverOpenIntentsAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "demo-pos-01"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.OpenIntent(intentOf("c1", testPending()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	d, err := newDemo(ctx, path, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.store.Close()
	got, err := d.store.FindUncertain("c1")
	if err != nil || got.ID != in.ID {
		t.Fatalf("FindUncertain after restart = %+v, %v\n%s", got, err, out.String())
	}
	es, _ := d.store.Records(in.ID, 10)
	if len(es) != 1 || es[0].Record.Kind != protocol.KindPurchaseUncertain || es[0].Record.IntentID != in.ID {
		t.Fatalf("records after the intent: %+v", es)
	}
}
