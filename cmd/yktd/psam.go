package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/readers"
)

// psamStartWait bounds the wait for the PSAM when the daemon starts (a
// variable for tests).
var psamStartWait = 15 * time.Second

// openSAM opens the SAM the configuration names (device.sam) and returns
// it with the function that stops it:
//
//   - "soft:KEYFILE": the software SAM (keys in a file: rig and
//     development only, and the log says so); stop does nothing.
//   - "pcsc:READER": the PSAM in the PC/SC reader whose name contains
//     READER, as a sam.Slot: it opens the PSAM when it is seated, notices
//     a removal, a re-seated PSAM and a restarted pcscd by itself, and
//     while there is no PSAM every sale is refused as a SAM fault.
//
// The slot runs until stop, not until ctx ends: the daemon's shutdown lets
// a tap in progress finish after ctx is cancelled, and that tap still
// needs its PSAM (CREDIT SAM FOR PURCHASE after the debit). Call stop after
// the daemon's Run returned.
//
// At start openSAM waits up to psamStartWait (less when ctx ends) for a
// PSAM. Without one it logs an error that names the reader and says why,
// and returns the slot anyway: the terminal runs (its journal syncs, it
// reports its state), refuses sales with the SAM fault until the PSAM is
// seated, then sells without a restart.
func openSAM(ctx context.Context, spec string, log *slog.Logger) (epurse.SAM, func(), error) {
	kind, arg, ok := strings.Cut(spec, ":")
	switch {
	case !ok || arg == "":
	case kind == "soft":
		s, err := sam.OpenSoftware(arg)
		if err != nil {
			return nil, nil, fmt.Errorf("software SAM: %w", err)
		}
		log.Warn("using the software SAM: keys are in a file, for the rig and development only", "file", arg)
		return s, func() {}, nil
	case kind == "pcsc":
		r, err := readers.BuildOne(config.Reader{Name: "pcsc:" + arg, Driver: config.DriverPCSC, Match: arg}, readers.Options{Log: log})
		if err != nil {
			return nil, nil, fmt.Errorf("PSAM reader: %w", err)
		}
		slot := sam.NewSlot(r, sam.SlotOptions{Log: log})
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			slot.Run(sctx)
		}()
		stop := func() {
			cancel()
			<-done
		}
		began := time.Now()
		wctx, wcancel := context.WithTimeout(ctx, psamStartWait)
		err = slot.WaitReady(wctx)
		wcancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			log.Warn("stopped while waiting for the PSAM", "reader", arg, "err", err)
		default:
			log.Error("PSAM missing at start: every sale is refused (SAM fault) until a PSAM is seated; the terminal keeps looking for it",
				"reader", arg, "waited", time.Since(began).Round(time.Millisecond).String(), "err", err)
		}
		return slot, stop, nil
	}
	return nil, nil, fmt.Errorf("device.sam %q: want soft:KEYFILE or pcsc:READER", spec)
}
