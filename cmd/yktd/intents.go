package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/openykt/yktd/offline"
)

// errIntentsPending makes `yktd journal intents` exit with code 3 when
// sales wait for their card: a script on a technician's laptop (or a
// shutdown check) can tell "nothing pending" from "pending" without parsing.
var errIntentsPending = errors.New("purchases pending")

// journalIntents lists the purchase intents that are still open or
// uncertain: sales whose outcome waits for the card to come back to this
// terminal (DESIGN.md 3.1 step 7). No PINs or holder data are in them.
func journalIntents(path string, z zone, stdout io.Writer) error {
	s, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	ins, err := s.Intents()
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		fmt.Fprintln(stdout, "no open or uncertain purchases")
		return nil
	}
	fmt.Fprintf(stdout, "%d purchase(s) wait for their card (times in %s):\n", len(ins), z.name)
	for _, in := range ins {
		state := "open"
		if in.State == offline.IntentUncertain {
			state = "uncertain"
		}
		how := "recoverable from the card"
		if !in.Recoverable() {
			how = "NOT recoverable from the card: settle with the ledger"
		}
		fmt.Fprintf(stdout, "#%d %s %s card_no=%s amount=%s card_counter=%d terminal_seq=%d (%s)\n",
			in.ID, z.format(in.Time), state, in.CardNo, yuan(in.Amount), in.CardCounter, in.TerminalSeq, how)
	}
	return fmt.Errorf("%w: %d", errIntentsPending, len(ins))
}
