package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
)

func init() {
	register(command{
		name:    "rig",
		summary: "test-rig tools: virtual cards behind pcscd's vpcd, scenario files against the real binaries",
		run:     runRig,
	})
}

const rigUsage = `usage: yktd rig vcard (--state FILE | --demo NAME | --psam) [--port 35963]
       yktd rig vcard --state FILE [--state FILE...] --control 127.0.0.1:0 --dir DIR [--port 35963]
       yktd rig run [--parallel N] [--junit FILE] [--yktd BIN] [--ledgerd BIN] SCENARIO.toml...

vcard  connects a virtual card to vpcd (pcscd's virtual reader) until SIGINT
       or SIGTERM. --state FILE loads a card saved by reader/sim (every change
       is written back to FILE); --demo NAME issues a demo card (see below;
       with --state and a missing FILE it is saved there); --psam presents the
       demo PSAM. --port picks the vpcd slot: 35963 is "Virtual PCD 00 00",
       35964 "Virtual PCD 00 01". With --control ADDR the cards (each named
       by its file name) wait outside the field and are driven like the
       simulator's (docs/rig.md): POST /sim/readers/vpcd/tap {"card": NAME},
       /sim/readers/vpcd/remove, /sim/cards/NAME/faults, GET /sim/cards;
       the credential and the address are written to DIR (control.token,
       control.addr).
run    runs scenario files against the real binaries (yktd rig run -h, docs/rig.md).`

func runRig(args []string, stdout, stderr io.Writer) error {
	return runSubcommand(args, stdout, stderr, rigUsage, rigHelp, map[string]runFunc{
		"vcard": rigVCard,
		"run":   rigRun,
	})
}

// rigHelp prints the usage of rig and the demo cards.
func rigHelp(w io.Writer) {
	fmt.Fprintln(w, rigUsage)
	printCatalogue(w)
}

func printCatalogue(w io.Writer) {
	fmt.Fprintln(w, "\ndemo cards:")
	for _, d := range sim.Catalogue() {
		fmt.Fprintf(w, "  %-10s %s\n", d.Name, d.Note)
	}
}

func rigVCard(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rig vcard", stderr, rigHelp)
	var states stateFiles
	fs.Var(&states, "state", "card state `FILE` (reader/sim format); several with --control")
	control := fs.String("control", "", "serve the card controls on `ADDR` (loopback)")
	ctlDir := fs.String("dir", "", "with --control: `DIR` for control.token and control.addr")
	demo := fs.String("demo", "", "demo card `NAME` from the catalogue")
	psam := fs.Bool("psam", false, "present the demo PSAM instead of a purse card")
	port := fs.Int("port", 35963, "vpcd TCP `PORT` on 127.0.0.1")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	if *port <= 0 || *port > 65535 {
		return usageError("--port %d out of range", *port)
	}
	if *control != "" {
		return rigVCardControlled(states, *demo, *psam, *control, *ctlDir, *port, stdout, stderr)
	}
	if len(states) > 1 || *ctlDir != "" {
		return usageError("several --state files and --dir go with --control")
	}
	state := new(string)
	if len(states) == 1 {
		*state = states[0]
	}
	var card vpcd.Card
	var what string
	switch {
	case *psam && (*state != "" || *demo != ""):
		return usageError("--psam excludes --state and --demo")
	case *psam:
		card, what = sim.NewDemoPSAM(), "demo PSAM"
	case *state == "" && *demo == "":
		return usageError("give --state FILE, --demo NAME or --psam\n%s", rigUsage)
	default:
		c, err := loadOrIssue(*state, *demo)
		if err != nil {
			return err
		}
		card, what = c, fmt.Sprintf("card %s", c.Profile().CardNo)
	}

	ctx, stop := runEnv.interrupt(context.Background())
	defer stop()
	addr := "127.0.0.1:" + strconv.Itoa(*port)
	slot := &vpcd.Slot{
		Addr: addr,
		Log:  slog.New(slog.NewTextHandler(stderr, nil)),
		OnChange: func(s vpcd.State) {
			fmt.Fprintf(stdout, "%s: %s\n", addr, s)
		},
	}
	slot.Present(card)
	fmt.Fprintf(stderr, "presenting %s on vpcd %s until interrupted\n", what, addr)
	return slot.Run(ctx)
}

// loadOrIssue loads the state file, or issues the demo card (saving it to
// the state file when one was named).
func loadOrIssue(state, demo string) (*sim.Card, error) {
	if state != "" {
		c, err := sim.LoadCard(state)
		if err == nil {
			if demo != "" {
				return nil, usageError("--state %s exists; drop --demo to use it", state)
			}
			return c, nil
		}
		if !errors.Is(err, os.ErrNotExist) || demo == "" {
			return nil, fmt.Errorf("rig vcard: %w", err)
		}
	}
	c, err := sim.NewDemoCard(demo)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if state != "" {
		if err := c.Save(state); err != nil {
			return nil, fmt.Errorf("rig vcard: %w", err)
		}
	}
	return c, nil
}
