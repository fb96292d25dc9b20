package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// The demo runs the pieces that exist today end to end, the way a canteen
// POS uses them (DESIGN.md 3.1): virtual cards tapped on a virtual reader,
// the software SAM with the test keys, the status list and the durable
// purchase intent in a real bbolt store (through the terminal's POS engine),
// a torn purchase resolved when the card comes back, and the journal
// verified at the end. `yktd run --sim` runs the whole daemon; this is the
// scripted walk-through of one torn sale.
func init() {
	register(command{
		name:    "demo",
		summary: "run a canteen sale on virtual cards against a real store (no hardware needed)",
		run:     runDemo,
	})
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the demo store (default: a new temporary directory)")
	price := fs.Uint("price", 1250, "meal price in fen")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: yktd demo [--dir DIR] [--price FEN]")
		fmt.Fprintln(stderr, "\nTaps the demo cards of reader/sim on a virtual reader and sells each a meal,")
		fmt.Fprintln(stderr, "journaling every step in DIR/yktd.db; then tears a sale and recovers it.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	const maxPrice = 100000 // 1000 yuan: far above any canteen price
	if fs.NArg() != 0 || *price == 0 || *price > maxPrice {
		return usageError("demo takes only --dir and --price (1..%d fen)", maxPrice)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "yktd-demo-")
		if err != nil {
			return err
		}
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := newDemo(ctx, filepath.Join(*dir, "yktd.db"), stdout, uint32(*price))
	if err != nil {
		return err
	}
	defer d.store.Close()
	return d.run(ctx)
}

type demo struct {
	out   io.Writer
	store *offline.Store
	pos   *pos.POS
	rdr   *sim.Reader
	// events carries the virtual reader's events.
	events chan reader.Event
	now    func() time.Time
}

// printDisplay prints what the customer display shows.
type printDisplay struct{ out io.Writer }

func (p printDisplay) Show(_ context.Context, m ui.Message) error {
	_, err := fmt.Fprintf(p.out, "   显示 %s | %s\n", m.ZH, m.EN)
	return err
}

func (p printDisplay) Clear(context.Context) error { return nil }

func newDemo(ctx context.Context, path string, out io.Writer, price uint32) (*demo, error) {
	store, err := offline.Open(path, offline.Options{DeviceID: "demo-pos-01", GroupCommitDelay: time.Microsecond})
	if err != nil {
		return nil, err
	}
	sw, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("software SAM: %w", err)
	}
	d := &demo{out: out, store: store, rdr: sim.NewReader("sim:canteen-1", reader.TechISO14443A),
		events: make(chan reader.Event, 8), now: time.Now}
	d.pos, err = pos.New(pos.Options{Store: store, SAM: sw, Display: printDisplay{out},
		Config: config.POS{Mode: config.ModeFixed, PriceFen: int64(price), PINLimitFen: 5000}, Location: time.Local})
	if err == nil {
		// Startup marks the intents a previous run left open uncertain:
		// DEBIT may have been sent, so the card's next tap resolves them.
		err = d.pos.Startup()
	}
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("pos: %w", err)
	}
	go d.rdr.Run(ctx, d.events)
	fmt.Fprintf(out, "store %s (device %s)\n", path, store.DeviceID())
	return d, nil
}

func (d *demo) run(ctx context.Context) error {
	if err := d.loadStatusList(); err != nil {
		return err
	}
	cards := map[string]*sim.Card{}
	for _, c := range sim.Catalogue() {
		card, err := c.Issue()
		if err != nil {
			return fmt.Errorf("issue %s: %w", c.Name, err)
		}
		cards[c.Name] = card
		fmt.Fprintf(d.out, "\n-- tap %s card (%s)\n", c.Name, c.Note)
		if err := d.sell(ctx, card); err != nil {
			return err
		}
	}

	student := cards["student"]
	fmt.Fprintln(d.out, "\n-- tap student card again; it is torn away right after the card executed DEBIT")
	if err := student.Arm(sim.Fault{Kind: sim.TearAfter, INS: 0x54}); err != nil {
		return fmt.Errorf("arm fault: %w", err)
	}
	if err := d.sell(ctx, student); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n-- the student card comes back: the uncertain sale is resolved from the card, not charged again")
	if err := d.sell(ctx, student); err != nil {
		return err
	}
	return d.report()
}

// loadStatusList applies the demo status list (the cards the catalogue marks
// as listed) as the ledger would send it.
func (d *demo) loadStatusList() error {
	info, err := d.store.StatusInfo()
	if err != nil {
		return err
	}
	var entries []offline.StatusEntry
	for _, c := range sim.Catalogue() {
		if c.Listed == "" {
			continue
		}
		r, err := offline.ParseReason(c.Listed)
		if err != nil {
			return err
		}
		entries = append(entries, offline.StatusEntry{CardNo: c.Profile.CardNumber(), Reason: r, Since: d.now().Add(-24 * time.Hour)})
	}
	if err := d.store.ApplySnapshot(offline.StatusSnapshot{Version: info.Version + 1, Entries: entries}); err != nil {
		return fmt.Errorf("status list: %w", err)
	}
	fmt.Fprintf(d.out, "status list version %d: %d cards listed\n", info.Version+1, len(entries))
	return nil
}

// tap presents card and waits for the reader's CardPresent event.
func (d *demo) tap(ctx context.Context, card *sim.Card) (reader.Card, error) {
	d.rdr.Tap(card)
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e := <-d.events:
			if e.Kind == reader.CardPresent {
				return e.Card, nil
			}
		}
	}
}

// sell is one POS tap through the terminal's purchase engine.
func (d *demo) sell(ctx context.Context, simCard *sim.Card) error {
	card, err := d.tap(ctx, simCard)
	if err != nil {
		return err
	}
	defer d.rdr.Remove()
	res, err := d.pos.HandleCard(ctx, card, 0)
	if err != nil {
		return fmt.Errorf("sale: %w", err)
	}
	fmt.Fprintf(d.out, "   %s (%s)", res.Outcome, res.Code)
	if res.IntentID != 0 {
		fmt.Fprintf(d.out, " journal #%d", res.IntentID)
	}
	if res.Recovered {
		fmt.Fprint(d.out, ", recovered from the card: not charged again")
	}
	fmt.Fprintln(d.out)
	return nil
}

func (d *demo) report() error {
	v, err := d.store.Verify()
	if err != nil {
		return fmt.Errorf("journal verify: %w", err)
	}
	open, err := d.store.Intents()
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\njournal: %d records, chain verified, head #%d %x\n", v.Count, v.Head.Seq, v.Head.Hash[:8])
	fmt.Fprintf(d.out, "open or uncertain intents: %d\n", len(open))
	fmt.Fprintf(d.out, "look at it: yktd journal tail --db %s\n", d.store.Path())
	return nil
}
