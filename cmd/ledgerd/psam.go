package main

import (
	"fmt"
	"io"
	"time"

	"github.com/openykt/yktd/ledger"
)

// cmdDeviceRebind is `ledgerd device rebind`: the operator's authorisation
// of a device's PSAM (issue 16). It binds the terminal id given, or the one
// the device last presented that did not match, to the device and lifts the
// ledger's hold; a device that had that id bound loses it.
func cmdDeviceRebind(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("device rebind", stderr)
	terminal := fs.String("terminal", "", "PSAM terminal id to bind, 12 hex digits (default: the one the device last presented)")
	var tid []byte
	a, done, err := parseAndOpen(fs, data, args, 1, "a device id", func() error {
		if *terminal == "" {
			return nil
		}
		var err error
		if tid, err = ledger.ParseTerminal(*terminal); err != nil {
			return usageError("device rebind: --terminal %q: want 12 hex digits", *terminal)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	d, err := a.Rebind(fs.Arg(0), tid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "device %s: PSAM %s bound; it takes money again once it hears from the ledger\n", d.ID, ledger.TerminalHex(d.PSAM.Terminal))
	return nil
}

// psamState is a device's PSAM binding in `device list`: the bound
// terminal id and how it was bound.
func psamState(d ledger.Device) string {
	b := d.PSAM
	switch {
	case b.Terminal != nil:
		return ledger.TerminalHex(b.Terminal) + " (" + b.How + ")"
	case !b.Lost.IsZero():
		return "- (moved to " + b.LostTo + ")"
	}
	return "-"
}

// heldState is the STATE of a device the ledger holds for its PSAM, "" for
// one it does not.
func heldState(d ledger.Device) string {
	if d.PSAM.Held.IsZero() {
		return ""
	}
	return fmt.Sprintf("HELD %s %s (seen %s, alert %d)", d.PSAM.HeldReason, d.PSAM.Held.Format(time.RFC3339),
		ledger.TerminalHex(d.PSAM.Seen), d.PSAM.HeldAlert)
}

// reportPSAM prints a held device's line of the report.
func reportPSAM(w io.Writer, d ledger.DeviceReport) {
	b := d.PSAM
	if b.Held.IsZero() {
		return
	}
	fmt.Fprintf(w, "HELD %s since %s: %s, PSAM %s presented, %s bound (alert %d); no money until `ledgerd device rebind %s`\n",
		d.ID, b.Held.Format(time.RFC3339), b.HeldReason, ledger.TerminalHex(b.Seen), ledger.TerminalHex(b.Terminal), b.HeldAlert, d.ID)
}
