package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/openykt/yktd/internal/pcscdtest"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/cardread"
)

// SlotReaders are the PC/SC names of vpcd's slots, by CardHost slot.
var SlotReaders = []string{pcscdtest.Reader0, pcscdtest.Reader1}

// SlotAddrs are the card-side addresses of vpcd's slots.
var SlotAddrs = []string{pcscdtest.Addr0, pcscdtest.Addr1}

// Price is the perf devices' sale: the demo canteen's fixed price, fen.
const Price = 1250

// ProbeResult is the card-only baseline: the sale's APDUs sent to the same
// virtual cards over the same pcscd, with no yktd.
type ProbeResult struct {
	// Detect: tap → the card's first command (the reader's UID read), per
	// tap: vpcd's presence poll, pcscd, SCardConnect.
	Detect []time.Duration
	// Sale: the card's first command → DEBIT answered and MAC2 verified,
	// per sale: the sale's APDUs over PC/SC, the software SAM's MACs.
	Sale []time.Duration
	// TapToDone: tap → the sale done, per tap.
	TapToDone []time.Duration
	// CardTime: the card's own time answering one sale's commands.
	CardTime []time.Duration
	// INS is the instruction sequence of one sale.
	INS []byte
}

// Probe runs sales sales of Price on the host's cards straight over PC/SC
// (reader/pcsc, pure-Go client, as the static yktd): the first taps of
// them each a tap of its own, alternating slots (connect and UID read by
// reader/pcsc's Reader, as in the daemon), the rest on the card left in
// the field, each from its UID read. The commands are the daemon's:
// FF CA, cardread.Read (SELECT, READ BINARY 15, GET BALANCE), then
// epurse.PreparePurchase (INITIALIZE FOR PURCHASE) and Debit (DEBIT FOR
// PURCHASE) with the software SAM of the test keys. No yktd may be
// running on the slots.
func Probe(ctx context.Context, host *CardHost, taps, sales int) (ProbeResult, error) {
	var res ProbeResult
	if taps < 1 || sales < taps {
		return res, fmt.Errorf("perf: probe: %d taps, %d sales", taps, sales)
	}
	soft, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		return res, fmt.Errorf("perf: probe: %w", err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return res, fmt.Errorf("perf: probe: %w", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := pcsc.NewReader(VPCDMatch, pcsc.Options{Backend: pcsc.Pure, Log: quiet})
	if err != nil {
		return res, fmt.Errorf("perf: probe: %w", err)
	}
	rctx, stop := context.WithCancel(ctx)
	events := make(chan reader.Event, 16)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx, events) }()
	defer func() { stop(); <-done }()

	present := map[string]bool{}
	next := func(name string, kind reader.EventKind) (reader.Event, error) {
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case ev := <-events:
				present[ev.Reader] = ev.Kind == reader.CardPresent
				if ev.Reader == "pcsc:"+name && ev.Kind == kind {
					return ev, nil
				}
			case err := <-done:
				done <- err
				return reader.Event{}, fmt.Errorf("perf: probe: the PC/SC reader stopped: %v", err)
			case <-t.C:
				return reader.Event{}, fmt.Errorf("perf: probe: no %v on %s within 10s", kind, name)
			}
		}
	}
	var card reader.Card
	slot := 0
	for i := range sales {
		if i < taps {
			slot = i % len(SlotReaders)
			name := SlotReaders[slot]
			if present["pcsc:"+name] {
				if _, err := next(name, reader.CardRemoved); err != nil {
					return res, err
				}
			}
			host.Tap(slot)
			ev, err := next(name, reader.CardPresent)
			if err != nil {
				return res, err
			}
			card = ev.Card
		} else {
			host.Mark(slot)
			if _, err := card.Transmit(ctx, []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}); err != nil {
				return res, fmt.Errorf("perf: probe: UID: %w", err)
			}
		}
		if err := probeSale(ctx, card, soft, loc); err != nil {
			return res, err
		}
		end := time.Now()
		tr := host.Trace(slot)
		res.Sale = append(res.Sale, end.Sub(tr.FirstAPDU))
		res.CardTime = append(res.CardTime, tr.CardTime)
		if i < taps {
			res.Detect = append(res.Detect, tr.FirstAPDU.Sub(tr.Tap))
			res.TapToDone = append(res.TapToDone, end.Sub(tr.Tap))
			if i < taps-1 {
				host.Remove(slot)
			}
		}
		res.INS = tr.INS
	}
	host.Remove(slot)
	return res, nil
}

// probeSale is the sale's commands after the UID read.
func probeSale(ctx context.Context, card reader.Card, s epurse.SAM, loc *time.Location) error {
	info, err := cardread.Read(ctx, card, nil)
	if err != nil {
		return fmt.Errorf("perf: probe: %w", err)
	}
	prep, err := epurse.PreparePurchase(ctx, card, s, epurse.PurchaseRequest{
		Amount: Price, Time: epurse.NewDateTime(time.Now().In(loc)), KeyIndex: 1, CardSerial: info.Public.Factor(),
	})
	if err != nil {
		return fmt.Errorf("perf: probe: %w", err)
	}
	out := prep.Debit(ctx, card)
	if out.Kind != epurse.Done || !out.MAC2Verified {
		return fmt.Errorf("perf: probe: debit %v: %w", out.Kind, errors.Join(out.Err, errors.New("not done")))
	}
	return nil
}
