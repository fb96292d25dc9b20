package pos_test

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
)

// TestPINNeverLoggedOrJournaled: a sale that asks for the PIN (a wrong one,
// then the right one) leaves neither PIN, as digits or as the BCD sent to
// the card, in the technician's log (debug level included) or in the
// journal.
func TestPINNeverLoggedOrJournaled(t *testing.T) {
	const wrong, right = "987654", "123456" // the demo cards' PIN is 123456
	r := newRig(t, config.POS{Mode: config.ModeKeyed})
	var logs bytes.Buffer
	p, err := pos.New(pos.Options{
		Store: r.store, SAM: r.sam, Display: r.ui, Keypad: r.ui, Now: r.clock.Now, Config: r.cfg,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Startup(); err != nil {
		t.Fatal(err)
	}
	r.pos = p
	card := demoCard(t, "staff", "", 0)
	r.ui.QueuePIN(wrong)
	r.ui.QueuePIN(right)
	r.wantPaid(r.handle(card, 6000), card, 6000, 50000)
	if logs.Len() == 0 {
		t.Fatal("nothing logged: the check would prove nothing")
	}
	for _, pin := range []string{wrong, right} {
		if strings.Contains(strings.ToUpper(logs.String()), pin) {
			t.Fatalf("PIN %s in the log:\n%s", pin, logs.String())
		}
		bcd, _ := hex.DecodeString(pin)
		h, err := r.store.Head()
		if err != nil {
			t.Fatal(err)
		}
		es, err := r.store.Records(0, int(h.Seq))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if bytes.Contains(e.Raw, []byte(pin)) || bytes.Contains(e.Raw, bcd) {
				t.Fatalf("PIN %s in journal record %d (%v)", pin, e.Record.Seq, e.Record.Kind)
			}
		}
		if len(es) == 0 || es[len(es)-1].Record.Kind != protocol.KindPurchaseCompleted {
			t.Fatalf("journal %d records, want the sale", len(es))
		}
	}
}
