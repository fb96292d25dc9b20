package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/openykt/yktd/offline"
)

func init() {
	register(command{
		name:    "status",
		summary: "look up a card on the status list, show its statistics",
		run:     runStatus,
	})
}

const statusUsage = `usage: yktd status <lookup|stats> --db FILE

  lookup --db FILE [--zone Z] CARDNO   is the card lost, frozen, dormant, cancelled or expired?
  stats  --db FILE                     list version, digest and count per reason

Times are RFC 3339 in the zone --zone names (default ` + defaultZone + `; UTC, Local).`

func runStatus(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("missing subcommand\n%s", statusUsage)
	}
	fs := flag.NewFlagSet("status "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "store file")
	switch args[0] {
	case "lookup":
		zoneName := zoneFlag(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError("%v", err)
		}
		if *db == "" || fs.NArg() != 1 {
			return usageError("want --db FILE CARDNO\n%s", statusUsage)
		}
		z, err := loadZone(*zoneName)
		if err != nil {
			return err
		}
		return statusLookup(*db, fs.Arg(0), z, stdout)
	case "stats":
		if err := parse(fs, args[1:], db); err != nil {
			return err
		}
		return statusStats(*db, stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, statusUsage)
		return flag.ErrHelp
	}
	return usageError("unknown subcommand %q\n%s", args[0], statusUsage)
}

func statusLookup(path, card string, z zone, stdout io.Writer) error {
	s, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	e, found, err := s.Lookup(card)
	if err != nil {
		return err
	}
	if !found {
		si, err := s.StatusInfo()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: not listed (list version %d)\n", card, si.Version)
		return nil
	}
	fmt.Fprintf(stdout, "%s: %s since %s (list version %d)\n", card, e.Reason, z.format(e.Since), e.Version)
	return nil
}

func statusStats(path string, stdout io.Writer) error {
	s, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	si, err := s.StatusInfo()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "version %d\ndigest  %s\ncards   %d\n", si.Version, hex.EncodeToString(si.Digest[:]), si.Count)
	for r := offline.ReasonLost; r <= offline.ReasonExpired; r++ {
		fmt.Fprintf(stdout, "  %-10s %d\n", r, si.ByReason[r])
	}
	return nil
}
