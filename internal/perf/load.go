package perf

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/openykt/yktd/reader/pcsc"
)

// LoadResult is what a run of taps on a daemon measured.
type LoadResult struct {
	// TapToDisplay: tap → the result's header on the daemon's display
	// (its console, stdout), per tap.
	TapToDisplay []time.Duration
	// Detect: tap → the card's first command (the daemon's UID read).
	Detect []time.Duration
	// APDUToDisplay: the card's first command → display: the daemon's
	// share plus the sale's APDUs.
	APDUToDisplay []time.Duration
	// DebitToDisplay: the card answered DEBIT → display.
	DebitToDisplay []time.Duration
	// CardTime: the card's own time answering the sale's commands.
	CardTime []time.Duration
	// INS is the instruction sequence of the last sale, up to the display.
	INS []byte
	// Peak is the sample with the largest VmRSS during the taps (and
	// right after them); End the memory read after the last (its HWM is
	// the peak since the start).
	Peak Memory
	End  Memory
}

// displayIgnored are display headers that are no result of a tap.
var displayIgnored = map[string]bool{"(clear)": true, "idle": true}

// TapLoad taps n times on the running device, alternating the host's
// slots, and waits each time for the sale's result on its display, which
// must be "approved". Before a slot's card taps again, pcscd must have
// seen it leave (polled through ListReaders while the daemon is idle). The
// daemon's memory is sampled every 100 ms meanwhile.
func TapLoad(ctx context.Context, d *Device, host *CardHost, n int) (LoadResult, error) {
	var res LoadResult
	p := d.Proc
	sctx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var peak Memory
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := ReadMemory(p.Pid()); err == nil && m.RSS > peak.RSS {
				peak = m
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stopSampling(); wg.Wait() }()

	left := make([]bool, len(SlotReaders))
	for i := range n {
		s := i % len(SlotReaders)
		if left[s] {
			if err := waitAbsent(ctx, SlotReaders[s]); err != nil {
				return res, err
			}
		}
		mark := p.Out.Len()
		host.Tap(s)
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		line, at, err := p.Out.Wait(wctx, mark, func(l string) bool { c := Code(l); return c != "" && !displayIgnored[c] })
		cancel()
		if err != nil {
			return res, fmt.Errorf("perf: tap %d on %s: no result on the display: %w (%s)\n%s", i+1, d.Spec.ID, err, p.Exit(), p.Err.Tail(10))
		}
		if c := Code(line.Text); c != "approved" {
			return res, fmt.Errorf("perf: tap %d on %s: the display shows %q, not a sale:\n%s%s", i+1, d.Spec.ID, c, p.Out.Tail(p.Out.Len()-at), p.Err.Tail(10))
		}
		host.Remove(s)
		left[s] = true
		tr := host.Trace(s)
		if tr.FirstAPDU.IsZero() || tr.DebitDone.IsZero() {
			return res, fmt.Errorf("perf: tap %d on %s: approved, but the card saw no DEBIT (INS % X)", i+1, d.Spec.ID, tr.INS)
		}
		res.TapToDisplay = append(res.TapToDisplay, line.T.Sub(tr.Tap))
		res.Detect = append(res.Detect, tr.FirstAPDU.Sub(tr.Tap))
		res.APDUToDisplay = append(res.APDUToDisplay, line.T.Sub(tr.FirstAPDU))
		res.DebitToDisplay = append(res.DebitToDisplay, line.T.Sub(tr.DebitDone))
		res.CardTime = append(res.CardTime, tr.CardTime)
		res.INS = tr.INS
	}
	stopSampling()
	wg.Wait()
	m, err := ReadMemory(p.Pid())
	if err != nil {
		return res, err
	}
	res.End, res.Peak = m, peak
	if m.RSS > peak.RSS {
		res.Peak = m
	}
	return res, nil
}

// waitAbsent polls pcscd until reader name has no card (bounded).
func waitAbsent(ctx context.Context, name string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs, err := pcsc.ListReaders(ctx, pcsc.Options{Backend: pcsc.Pure})
		if err == nil {
			for _, r := range rs {
				if r.Name == name && !r.Present {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("perf: pcscd still shows a card in %s 5s after its removal (%v)", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond): // polling pcscd, bounded
		}
	}
}
