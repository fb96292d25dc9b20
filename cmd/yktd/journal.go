package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

func init() {
	register(command{
		name:    "journal",
		summary: "verify, show, export the journal; make a demo store",
		run: func(args []string, stdout, stderr io.Writer) error {
			return storeToolError(runJournal(args, stdout, stderr))
		},
	})
}

const journalUsage = `usage: yktd journal <verify|tail|intents|export|demo> --db FILE [flags]

  verify  --db FILE                       walk the hash chain; exit 1 at the first broken record
  tail    --db FILE [-n N] [--zone Z]     print the last N records
  intents --db FILE [--zone Z]            list purchases still open or uncertain (exit 3 if any)
  export  --db FILE [--format cbor|json] [--zone Z] [-o FILE]
                                          write every record (CBOR sequence or JSON lines)
  demo    --db FILE [--device ID]         create a demo store to try the tools on

Times are RFC 3339 in the zone --zone names (default ` + defaultZone + `; UTC,
Local for this machine's), named in tail's header and in each JSON line's
"zone". Hashes, cryptograms, terminal id, card serial, digest and the BCD
tx_time are lower-case hex; amounts are yuan in tail, fen in JSON. Each JSON
line carries the store's device and epoch.`

func runJournal(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("missing subcommand\n%s", journalUsage)
	}
	fs := flag.NewFlagSet("journal "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "store file")
	switch args[0] {
	case "verify":
		if err := parse(fs, args[1:], db); err != nil {
			return err
		}
		return journalVerify(*db, stdout)
	case "tail":
		n := fs.Int("n", 20, "number of records")
		zoneName := zoneFlag(fs)
		if err := parse(fs, args[1:], db); err != nil {
			return err
		}
		if *n <= 0 {
			return usageError("-n must be positive")
		}
		z, err := loadZone(*zoneName)
		if err != nil {
			return err
		}
		return journalTail(*db, *n, z, stdout)
	case "intents":
		zoneName := zoneFlag(fs)
		if err := parse(fs, args[1:], db); err != nil {
			return err
		}
		z, err := loadZone(*zoneName)
		if err != nil {
			return err
		}
		return journalIntents(*db, z, stdout)
	case "export":
		format := fs.String("format", "cbor", "cbor (a CBOR sequence of the exact records) or json (JSON lines)")
		out := fs.String("o", "-", "output file, - for stdout")
		zoneName := zoneFlag(fs)
		if err := parse(fs, args[1:], db); err != nil {
			return err
		}
		if *format != "cbor" && *format != "json" {
			return usageError("--format must be cbor or json")
		}
		z, err := loadZone(*zoneName)
		if err != nil {
			return err
		}
		return journalExport(*db, *format, z, *out, stdout, stderr)
	case "demo":
		dev := fs.String("device", "demo-pos-0001", "device id of the demo store")
		if err := parse(fs, args[1:], db); err != nil {
			return err
		}
		return journalDemo(*db, *dev, stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, journalUsage)
		return flag.ErrHelp
	}
	return usageError("unknown subcommand %q\n%s", args[0], journalUsage)
}

// parse parses flags, requires --db and refuses stray arguments.
func parse(fs *flag.FlagSet, args []string, db *string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	if *db == "" {
		return usageError("--db FILE is required")
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	return nil
}

// openReadOnly opens the store beside a running daemon if it can; the
// daemon holds the lock while it runs, so a busy store fails fast.
func openReadOnly(path string) (*offline.Store, error) {
	s, err := offline.Open(path, offline.Options{ReadOnly: true, LockTimeout: 300 * time.Millisecond})
	switch {
	case errors.Is(err, offline.ErrStoreInUse):
		return nil, fmt.Errorf("%s: %w: stop the daemon, or copy the file and run the tool on the copy", path, offline.ErrStoreInUse)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w; check --db", err)
	}
	return s, err
}

// damageAdvice is what to do with a store whose bytes do not decode.
const damageAdvice = "keep the file (it may hold records the ledger has not received) and restore the store from a backup"

// storeToolError is the error of a journal or status tool as the one line
// the technician reads: a damaged store (found by Open, or by a read
// after it) says what to do, and a message never spans lines.
func storeToolError(err error) error {
	if err == nil || errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) || errors.Is(err, errIntentsPending) {
		return err
	}
	if (errors.Is(err, offline.ErrCorrupt) || errors.Is(err, offline.ErrChainBroken)) && !strings.Contains(err.Error(), damageAdvice) {
		err = fmt.Errorf("%w; %s", err, damageAdvice)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		err = &oneLineError{msg: strings.Join(strings.Fields(msg), " "), err: err}
	}
	return err
}

// oneLineError is err with its message on one line.
type oneLineError struct {
	msg string
	err error
}

func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.err }

func journalVerify(path string, stdout io.Writer) error {
	s, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Verify()
	if err != nil {
		var ce *offline.ChainError
		if errors.As(err, &ce) {
			fmt.Fprintf(stdout, "BROKEN at sequence %d: %s\n", ce.Seq, ce.Reason)
		}
		return err
	}
	fmt.Fprintf(stdout, "OK %d records (sequences %d..%d), head %s, device %s\n",
		res.Count, res.First, res.Head.Seq, hex.EncodeToString(res.Head.Hash[:]), s.DeviceID())
	return nil
}

func journalTail(path string, n int, z zone, stdout io.Writer) error {
	s, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	h, err := s.Head()
	if err != nil {
		return err
	}
	after := uint64(0)
	if h.Seq > uint64(n) {
		after = h.Seq - uint64(n)
	}
	es, err := s.Records(after, n)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintln(w, tailHeader(s, es, h.Seq, z))
	for _, e := range es {
		fmt.Fprintln(w, formatRecord(&e.Record, z))
	}
	return w.Flush()
}

func journalExport(path, format string, z zone, out string, stdout, stderr io.Writer) (err error) {
	s, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	w := stdout
	if out != "-" {
		f, ferr := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return ferr
		}
		defer func() { // err is the result: a failed sync or close fails the export
			if cerr := f.Sync(); err == nil {
				err = cerr
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				// No half export: what is there would read as the journal.
				_ = os.Remove(out)
			}
		}()
		w = f
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	for after := uint64(0); ; {
		es, err := s.Records(after, 1000)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if format == "cbor" {
				_, err = bw.Write(e.Raw)
			} else {
				err = enc.Encode(newJSONRecord(s, &e, z))
			}
			if err != nil {
				return err
			}
			n++
		}
		after = es[len(es)-1].Record.Seq
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(stderr, "exported %d records to %s\n", n, out)
	}
	return nil
}

// journalDemo makes a store a newcomer can try verify, tail and status
// lookup on before any terminal exists: a few purchases completed, voided
// and left uncertain, a gate pass, an alarm and a small status list.
func journalDemo(path, device string, stdout io.Writer) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; the demo only creates new stores", path)
	}
	s, err := offline.Open(path, offline.Options{DeviceID: device})
	if err != nil {
		return err
	}
	defer s.Close()
	tid := []byte{0x00, 0x00, 0x12, 0x34, 0x56, 0x78}
	cards := []string{"2024000101", "2024000102", "2024000103", "2024000104"}
	balance := map[string]int64{cards[0]: 5000, cards[1]: 12000, cards[2]: 800, cards[3]: 3000}
	for i, card := range cards {
		amount := int64(350 + 150*i)
		in, err := s.OpenIntent(offline.PurchaseIntent{
			CardNo: card, Amount: amount, BalanceBefore: balance[card],
			CardCounter: uint32(10 + i), TerminalID: tid, TerminalSeq: uint32(1000 + i),
			TxTime:     []byte{0x20, 0x24, 0x09, 0x01, 0x12, byte(i), 0x00}, // BCD 2024-09-01 12:0i:00
			CardSerial: []byte{0x10, 0, 0, 0, 0, 0x01, 0x01, byte(i + 1)},
			KeyIndex:   1, KeyVersion: 1, MAC1: []byte{0x4D, 0x41, 0x43, byte(i)},
		})
		if err != nil {
			return err
		}
		switch i {
		case 0, 1:
			_, err = s.CompleteIntent(in.ID, offline.Completion{
				BalanceAfter: balance[card] - amount,
				TAC:          []byte{0xA1, 0xB2, 0xC3, byte(i)}, MAC2: []byte{0x11, 0x22, 0x33, byte(i)},
			})
		case 2:
			_, err = s.VoidIntent(in.ID, "insufficient-balance")
		case 3:
			_, err = s.MarkUncertain(in.ID, "card-removed")
		}
		if err != nil {
			return err
		}
	}
	for _, r := range []protocol.Record{
		{Kind: protocol.KindGatePass, CardNo: cards[0], Credential: "card"},
		{Kind: protocol.KindGateDenied, CardNo: "2023009999", Credential: "card", Reason: "lost"},
		{Kind: protocol.KindAlarm, Reason: "door-held-open"},
	} {
		if _, err := s.Append(r); err != nil {
			return err
		}
	}
	since := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: []offline.StatusEntry{
		{CardNo: "2023009999", Reason: offline.ReasonLost, Since: since},
		{CardNo: "2023001234", Reason: offline.ReasonFrozen, Since: since},
		{CardNo: "2020000042", Reason: offline.ReasonExpired, Since: since},
		{CardNo: "2021000777", Reason: offline.ReasonDormant, Since: since},
	}}); err != nil {
		return err
	}
	if err := s.ApplyDelta(offline.StatusDelta{From: 1, To: 2, Changes: []offline.StatusChange{
		{CardNo: "2022000555", Reason: offline.ReasonCancelled, Since: since.Add(24 * time.Hour)},
	}}); err != nil {
		return err
	}
	h, err := s.Head()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo store %s for device %s: %d records, 1 uncertain purchase, 5 cards on the status list\n", path, device, h.Seq)
	fmt.Fprintf(stdout, "try: yktd journal verify --db %s; yktd journal tail --db %s; yktd status lookup --db %s 2023009999\n", path, path, path)
	return nil
}
