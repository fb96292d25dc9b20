package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// The demo runs the pieces that exist today end to end, the way a canteen
// POS uses them (DESIGN.md 3.1): virtual cards tapped on a virtual reader,
// the software SAM with the test keys, the status list and the durable
// purchase intent in a real bbolt store, a torn purchase resolved when the
// card comes back, and the journal verified at the end. The terminal issue
// replaces it with `yktd run --sim`.
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	const maxPrice = 100000 // 1000 yuan: far above any canteen price
	if fs.NArg() != 0 || *price == 0 || *price > maxPrice {
		return usageError("demo takes only --dir and --price (1..%d fen)", maxPrice)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "yktd-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		*dir = d
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := newDemo(ctx, filepath.Join(*dir, "yktd.db"), stdout)
	if err != nil {
		return err
	}
	defer d.store.Close()
	return d.run(ctx, uint32(*price))
}

type demo struct {
	out    io.Writer
	store  *offline.Store
	sam    *sam.Software
	rdr    *sim.Reader
	events chan reader.Event
	now    func() time.Time
}

func newDemo(ctx context.Context, path string, out io.Writer) (*demo, error) {
	store, err := offline.Open(path, offline.Options{DeviceID: "demo-pos-01"})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	sw, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("demo: software SAM: %w", err)
	}
	if err := takeOverOpenIntents(store, out); err != nil {
		store.Close()
		return nil, err
	}
	d := &demo{out: out, store: store, sam: sw, rdr: sim.NewReader("sim:canteen-1", reader.TechISO14443A),
		events: make(chan reader.Event, 8), now: time.Now}
	go d.rdr.Run(ctx, d.events)
	fmt.Fprintf(out, "store %s (device %s)\n", path, store.DeviceID())
	return d, nil
}

// takeOverOpenIntents marks uncertain the intents a previous run left open
// (it stopped between the intent and its outcome, or the group commit of a
// completion was lost): DEBIT may have been sent, so the card's next tap
// must resolve them (DESIGN.md 3.1 step 7: on restart, uncertain intents
// are listed and resolved the same way).
func takeOverOpenIntents(store *offline.Store, out io.Writer) error {
	ins, err := store.Intents()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, in := range ins {
		if in.State != offline.IntentOpen {
			continue
		}
		if _, err := store.MarkUncertain(in.ID, "restart"); err != nil {
			return fmt.Errorf("demo: mark intent %d uncertain: %w", in.ID, err)
		}
		fmt.Fprintf(out, "intent #%d of card %s was left open: uncertain until the card returns\n", in.ID, in.CardNo)
	}
	return nil
}

func (d *demo) run(ctx context.Context, price uint32) error {
	if err := d.loadStatusList(); err != nil {
		return err
	}
	cards := map[string]*sim.Card{}
	for _, c := range sim.Catalogue() {
		card, err := c.Issue()
		if err != nil {
			return fmt.Errorf("demo: issue %s: %w", c.Name, err)
		}
		cards[c.Name] = card
		fmt.Fprintf(d.out, "\n-- tap %s card (%s)\n", c.Name, c.Note)
		if err := d.sell(ctx, card, price); err != nil {
			return err
		}
	}

	student := cards["student"]
	fmt.Fprintln(d.out, "\n-- tap student card again; it is torn away right after the card executed DEBIT")
	if err := student.Arm(sim.Fault{Kind: sim.TearAfter, INS: 0x54}); err != nil {
		return fmt.Errorf("demo: arm fault: %w", err)
	}
	if err := d.sell(ctx, student, price); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n-- the student card comes back: the uncertain sale is resolved from the card")
	if err := d.sell(ctx, student, price); err != nil {
		return err
	}
	return d.report()
}

// loadStatusList applies the demo status list (the cards the catalogue marks
// as listed) as the ledger would send it.
func (d *demo) loadStatusList() error {
	info, err := d.store.StatusInfo()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var entries []offline.StatusEntry
	for _, c := range sim.Catalogue() {
		if c.Listed == "" {
			continue
		}
		r, err := offline.ParseReason(c.Listed)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		entries = append(entries, offline.StatusEntry{CardNo: c.Profile.CardNumber(), Reason: r, Since: d.now().Add(-24 * time.Hour)})
	}
	if err := d.store.ApplySnapshot(offline.StatusSnapshot{Version: info.Version + 1, Entries: entries}); err != nil {
		return fmt.Errorf("demo: status list: %w", err)
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

// sell is one POS tap: read the card, check the status list and validity,
// resolve an uncertain sale of this card first, else pay with a durable
// intent before DEBIT.
func (d *demo) sell(ctx context.Context, simCard *sim.Card, price uint32) error {
	card, err := d.tap(ctx, simCard)
	if err != nil {
		return err
	}
	defer d.rdr.Remove()
	if _, err := epurse.Select(ctx, card, sim.DefaultAID); err != nil {
		d.show("读卡失败", "card not readable", err)
		return nil
	}
	pub, err := epurse.ReadPublicData(ctx, card)
	if err != nil {
		d.show("读卡失败", "card not readable", err)
		return nil
	}
	cardNo := pub.CardNumber()
	if e, listed, err := d.store.Lookup(cardNo); err != nil {
		return fmt.Errorf("demo: status lookup: %w", err)
	} else if listed {
		d.show("此卡已"+reasonZH(e.Reason)+"，请到服务点处理", "card "+e.Reason.String()+", see the service desk", nil)
		return nil
	}
	if !pub.ValidOn(d.now()) {
		d.show("卡已过期，请到圈存机延期", "card expired, extend it at a kiosk", nil)
		return nil
	}

	if in, err := d.store.FindUncertain(cardNo); err == nil {
		return d.resolve(ctx, card, in)
	} else if !errors.Is(err, offline.ErrNotFound) {
		return fmt.Errorf("demo: %w", err)
	}

	var intent offline.Intent
	out := epurse.Pay(ctx, card, d.sam, epurse.PurchaseRequest{
		Amount: price, Time: epurse.NewDateTime(d.now()), CardSerial: pub.Factor(),
	}, func(p epurse.Pending) error {
		var err error
		intent, err = d.store.OpenIntent(intentOf(cardNo, p))
		return err
	})
	return d.book(intent, out)
}

// book journals the outcome of a purchase whose intent was opened.
func (d *demo) book(in offline.Intent, out epurse.PurchaseOutcome) error {
	switch out.Kind {
	case epurse.Done:
		if _, err := d.store.CompleteIntent(in.ID, offline.Completion{
			BalanceAfter: int64(out.BalanceAfter), TAC: out.TAC[:], MAC2: out.MAC2[:],
		}); err != nil {
			return fmt.Errorf("demo: complete intent %d: %w", in.ID, err)
		}
		d.show(fmt.Sprintf("消费 %s 元，余额 %s 元", yuan(int64(out.Pending.Amount)), yuan(int64(out.BalanceAfter))),
			fmt.Sprintf("paid %s, balance %s (TAC %X, journal #%d)", yuan(int64(out.Pending.Amount)), yuan(int64(out.BalanceAfter)), out.TAC, in.ID), nil)
	case epurse.Uncertain:
		// A recovery that still cannot tell leaves the intent uncertain
		// as it is: it was journaled uncertain once already.
		if in.State != offline.IntentUncertain {
			if _, err := d.store.MarkUncertain(in.ID, reasonCode(out.Err)); err != nil {
				return fmt.Errorf("demo: mark intent %d uncertain: %w", in.ID, err)
			}
		}
		d.show("交易未完成，请重新放卡", "sale not finished, tap the card again", out.Err)
	case epurse.Void:
		if in.ID != 0 {
			if _, err := d.store.VoidIntent(in.ID, "counter-unchanged"); err != nil {
				return fmt.Errorf("demo: void intent %d: %w", in.ID, err)
			}
		}
		d.show("交易已取消，未扣款", "sale voided, nothing was debited", nil)
	case epurse.Refused:
		if in.ID != 0 {
			if _, err := d.store.VoidIntent(in.ID, reasonCode(out.Err)); err != nil {
				return fmt.Errorf("demo: void intent %d: %w", in.ID, err)
			}
		}
		msg, en := "交易被拒绝", "refused"
		if errors.Is(out.Err, epurse.ErrInsufficientBalance) {
			msg, en = "余额不足", "insufficient balance"
		}
		d.show(msg, en, out.Err)
	}
	return nil
}

// resolve settles an uncertain sale with the card back in the field.
func (d *demo) resolve(ctx context.Context, card reader.Card, in offline.Intent) error {
	p, err := pendingOf(in)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   resolving uncertain sale #%d (card counter was %d)\n", in.ID, in.CardCounter)
	return d.book(in, epurse.Recover(ctx, card, p))
}

func (d *demo) report() error {
	v, err := d.store.Verify()
	if err != nil {
		return fmt.Errorf("demo: journal verify: %w", err)
	}
	open, err := d.store.Intents()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(d.out, "\njournal: %d records, chain verified, head #%d %x\n", v.Count, v.Head.Seq, v.Head.Hash[:8])
	fmt.Fprintf(d.out, "open or uncertain intents: %d\n", len(open))
	fmt.Fprintf(d.out, "look at it: yktd journal tail --db %s\n", d.store.Path())
	return nil
}

// show prints what the customer display would show (Chinese, then English)
// and, for the technician, the cause.
func (d *demo) show(zh, en string, cause error) {
	fmt.Fprintf(d.out, "   显示 %s | %s\n", zh, en)
	if cause != nil {
		fmt.Fprintf(d.out, "   cause: %v\n", cause)
	}
}

func reasonZH(r offline.Reason) string {
	switch r {
	case offline.ReasonLost:
		return "挂失"
	case offline.ReasonFrozen:
		return "冻结"
	case offline.ReasonDormant:
		return "休眠"
	case offline.ReasonCancelled:
		return "注销"
	case offline.ReasonExpired:
		return "过期"
	}
	return "停用"
}

// reasonCode is the short, stable reason journaled with a voided or
// uncertain sale (the journal is evidence, not a log: no free text).
func reasonCode(err error) string {
	var se *reader.StatusError
	switch {
	case errors.Is(err, epurse.ErrInsufficientBalance):
		return "insufficient-balance"
	case errors.Is(err, epurse.ErrLocked):
		return "card-locked"
	case errors.Is(err, epurse.ErrMACInvalid):
		return "mac-invalid"
	case errors.Is(err, reader.ErrCardRemoved):
		return "card-removed"
	case errors.Is(err, reader.ErrTimeout):
		return "card-timeout"
	case errors.As(err, &se):
		return fmt.Sprintf("card-sw-%04X", uint16(se.SW))
	case err == nil:
		return "unknown"
	}
	return "card-answer-lost"
}
