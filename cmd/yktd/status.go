package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"io"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

func init() {
	register(command{
		name:    "status",
		summary: "look up a card on the status list, show its statistics",
		run: func(args []string, stdout, stderr io.Writer) error {
			return storeToolError(runStatus(args, stdout, stderr))
		},
	})
}

const statusUsage = `usage: yktd status <lookup|stats> --db FILE

  lookup --db FILE [--zone Z] CARDNO   is the card lost, frozen, dormant, cancelled or expired?
                                       (CARDNO: decimal digits, or a UID in lower-case hex)
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
		pos, err := parseInterleaved(fs, args[1:])
		if err != nil {
			return err
		}
		if *db == "" || len(pos) != 1 {
			return usageError("want --db FILE CARDNO\n%s", statusUsage)
		}
		if !wellFormedCardNo(pos[0]) {
			return usageError("card number %q is malformed: want 1 to %d decimal digits, or lower-case hex bytes (a UID), as a terminal reads them", pos[0], protocol.MaxCardNoLen)
		}
		z, err := loadZone(*zoneName)
		if err != nil {
			return err
		}
		return statusLookup(*db, pos[0], z, stdout)
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

// wellFormedCardNo reports whether s is a credential id as a terminal
// looks it up on the status list: a card number (the application serial,
// BCD, read as decimal digits), a Wiegand number or a QR subject in
// decimal digits, or a card UID in lower-case hex of whole bytes; at most
// protocol.MaxCardNoLen characters.
func wellFormedCardNo(s string) bool {
	if len(s) == 0 || len(s) > protocol.MaxCardNoLen {
		return false
	}
	digits, hexOnly := true, true
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			digits = false
		default:
			digits, hexOnly = false, false
		}
	}
	return digits || (hexOnly && len(s)%2 == 0)
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
