package ledger_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/openykt/yktd/ledger"
)

// An operator's day at the ledger: a token for a new POS, money waiting
// for a card, a card reported lost, and the status list version devices
// will fetch.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "ledger-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	now := func() time.Time { return time.Date(2026, 9, 14, 8, 0, 0, 0, time.UTC) }
	l, err := ledger.Open(dir, ledger.Options{Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	tok, expires, _ := l.NewToken("canteen-1-pos-3", "pos")
	fmt.Println(tok[:5], "expires", expires.Format(time.DateTime))
	ld, _ := l.AddLoad("10012026090100000001", 5000, "bank transfer")
	fmt.Println("load", ld.ID, ld.State, ld.Amount)
	v, _ := l.SetStatus("10012026090100000002", ledger.ReasonLost)
	fmt.Println("status list version", v)
	// Output:
	// ykt1- expires 2026-09-15 08:00:00
	// load 1 pending 5000
	// status list version 2
}
