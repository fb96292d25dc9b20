package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
)

// openAdmin opens the ledger in dir directly or, while ledgerd serves it,
// reaches it through the admin socket. close releases it.
func openAdmin(dir string) (ledger.Admin, func(), error) {
	if _, err := os.Stat(filepath.Join(dir, ledger.DBFile)); err != nil {
		return nil, nil, fmt.Errorf("no ledger in %s (ledgerd init --data %s): %w", dir, dir, err)
	}
	// A serving ledger answers on its socket: asked first, the command
	// does not wait out the database lock's timeout (200 ms each command).
	// A socket left by a ledger that was killed refuses the connection.
	sock := filepath.Join(dir, ledger.AdminSocket)
	if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		c.Close()
		return ledger.NewAdminClient(sock), func() {}, nil
	}
	l, err := ledger.Open(dir, ledger.Options{LockTimeout: 200 * time.Millisecond, Logger: quietLogger()})
	if err == nil {
		return l, func() { l.Close() }, nil
	}
	if !errors.Is(err, ledger.ErrInUse) {
		return nil, nil, err
	}
	if _, serr := os.Stat(sock); serr != nil {
		return nil, nil, fmt.Errorf("%w, and no admin socket %s", err, sock)
	}
	return ledger.NewAdminClient(sock), func() {}, nil
}

// parseAndOpen is the start of every command that works on the ledger
// through ledger.Admin: parse args (see parse), run check (when not nil)
// on the parsed flags and arguments, then open the ledger in --data (see
// openAdmin). done releases it.
func parseAndOpen(fs *flag.FlagSet, data *string, args []string, nargs int, what string, check func() error) (a ledger.Admin, done func(), err error) {
	if err := parse(fs, data, args, nargs, what); err != nil {
		return nil, nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, nil, err
		}
	}
	return openAdmin(*data)
}

// newTable returns a writer for the aligned columns of a listing.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("init", stderr)
	if err := parse(fs, data, args, 0, "no arguments"); err != nil {
		return err
	}
	l, err := ledger.Open(*data, ledger.Options{LockTimeout: 200 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Fprintf(stdout, "ledger in %s, kid %s\n", *data, l.KeyID())
	return nil
}

func cmdKeys(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("keys", stderr)
	asPEM := fs.Bool("pem", false, "print the public key as PEM (with its key id) for provisioning files")
	fp := fs.Bool("fingerprint", false, "print only the key's fingerprint (sha256:..., a device's sync.ledger_key)")
	if err := parse(fs, data, args, 0, "no arguments"); err != nil {
		return err
	}
	if *asPEM && *fp {
		return usageError("keys: --pem or --fingerprint, not both")
	}
	kid, pub, err := ledger.ReadPublicKey(*data)
	if err != nil {
		return err
	}
	if *asPEM {
		b, err := protocol.EncodePublicKeyPEM(protocol.PublicKey{KeyID: kid, Alg: protocol.AlgEd25519, Key: pub})
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	if *fp {
		fmt.Fprintln(stdout, protocol.Fingerprint(pub))
		return nil
	}
	fmt.Fprintf(stdout, "kid %s\nalg -8 (Ed25519)\npublic %s\nfingerprint %s\n", kid, base64.StdEncoding.EncodeToString(pub), protocol.Fingerprint(pub))
	return nil
}

func cmdTokenNew(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("token new", stderr)
	dev := fs.String("device", "", "device id the token enrols (required)")
	kind := fs.String("kind", "pos", "device kind: pos, gate, kiosk or desk")
	site := fs.String("site", "", "the only site the token enrols the device at (device.site); it authorises moving an enrolled device there")
	a, done, err := parseAndOpen(fs, data, args, 0, "no arguments", func() error {
		if *dev == "" {
			return usageError("token new: --device ID is required")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	tok, exp, err := a.NewSiteToken(*dev, *kind, *site)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	at := ""
	if *site != "" {
		at = " at site " + *site
	}
	fmt.Fprintf(stderr, "token for %s (%s)%s, single use, valid until %s\n", *dev, *kind, at, exp.Format(time.RFC3339))
	return printFingerprint(stderr, *data)
}

// printFingerprint tells the technician the ledger key's fingerprint, which
// the device's configuration pins (sync.ledger_key).
func printFingerprint(w io.Writer, dir string) error {
	_, pub, err := ledger.ReadPublicKey(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "ledger key %s: put it in the device's sync.ledger_key\n", protocol.Fingerprint(pub))
	return nil
}

func cmdDeviceRekey(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("device rekey", stderr)
	a, done, err := parseAndOpen(fs, data, args, 1, "a device id", nil)
	if err != nil {
		return err
	}
	defer done()
	tok, exp, err := a.Rekey(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "rekey token for %s, single use, valid until %s: the device's next enrolment with it (yktd run --enrol TOKEN) replaces its key\n",
		fs.Arg(0), exp.Format(time.RFC3339))
	return printFingerprint(stderr, *data)
}

func cmdDeviceList(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("device list", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	a, done, err := parseAndOpen(fs, data, args, 0, "no arguments", nil)
	if err != nil {
		return err
	}
	defer done()
	devs, err := a.Devices()
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, devs)
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "DEVICE\tKIND\tSITE\tSTATE\tPSAM\tEPOCH\tHIGH-WATER\tRECORDS\tLAST BATCH")
	for _, d := range devs {
		state := "token issued"
		switch {
		case !d.Revoked.IsZero():
			state = "revoked " + d.Revoked.Format(time.RFC3339)
		case heldState(d) != "":
			state = heldState(d)
		case !d.Rekeyed.IsZero():
			state = "re-keyed " + d.Rekeyed.Format(time.RFC3339)
		case d.PublicKey != nil:
			state = "enrolled"
		}
		last := "-"
		if !d.Stats.LastBatch.IsZero() {
			last = d.Stats.LastBatch.Format(time.RFC3339)
		}
		site := d.Site
		if site == "" {
			site = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", d.ID, d.Kind, site, state, psamState(d), d.Epoch, d.HighWater, d.Stats.Records, last)
	}
	return tw.Flush()
}

func cmdDeviceRevoke(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("device revoke", stderr)
	a, done, err := parseAndOpen(fs, data, args, 1, "a device id", nil)
	if err != nil {
		return err
	}
	defer done()
	if err := a.Revoke(fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "device %s revoked\n", fs.Arg(0))
	return nil
}

func cmdStatus(add bool, args []string, stdout, stderr io.Writer) error {
	name, n, what := "status remove", 1, "a card number"
	if add {
		name, n, what = "status add", 2, "a card number and a reason"
	}
	fs, data := newFlags(name, stderr)
	var reason uint8
	a, done, err := parseAndOpen(fs, data, args, n, what, func() error {
		if !add {
			return nil
		}
		var err error
		if reason, err = ledger.ParseReason(fs.Arg(1)); err != nil {
			return usageError("%s: %v", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	var v uint64
	if add {
		v, err = a.SetStatus(fs.Arg(0), reason)
	} else {
		v, err = a.RemoveStatus(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "status list version %d\n", v)
	return nil
}

func cmdLoadAdd(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("load add", stderr)
	source := fs.String("source", "operator", "where the money came from")
	var amount int64
	a, done, err := parseAndOpen(fs, data, args, 2, "a card number and an amount in fen", func() error {
		var err error
		if amount, err = strconv.ParseInt(fs.Arg(1), 10, 64); err != nil || amount <= 0 {
			return usageError("load add: amount %q: want a positive number of fen", fs.Arg(1))
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	ld, err := a.AddLoad(fs.Arg(0), amount, *source)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "load %d: %d fen waiting for card %s\n", ld.ID, ld.Amount, ld.CardNo)
	return nil
}

func cmdLoadList(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("load list", stderr)
	a, done, err := parseAndOpen(fs, data, args, 1, "a card number", nil)
	if err != nil {
		return err
	}
	defer done()
	lds, err := a.PendingLoads(fs.Arg(0))
	if err != nil {
		return err
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "LOAD\tAMOUNT\tCREATED\tSOURCE")
	for _, ld := range lds {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", ld.ID, yuan(ld.Amount), ld.Created.Format(time.RFC3339), ld.Source)
	}
	return tw.Flush()
}

func cmdLoadCancel(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("load cancel", stderr)
	var id uint64
	a, done, err := parseAndOpen(fs, data, args, 1, "a load id", func() error {
		var err error
		if id, err = strconv.ParseUint(fs.Arg(0), 10, 64); err != nil || id == 0 {
			return usageError("load cancel: load id %q", fs.Arg(0))
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	ld, err := a.CancelLoad(id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "load %d of %s for card %s cancelled\n", ld.ID, yuan(ld.Amount), ld.CardNo)
	return nil
}

func cmdRulesSet(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("rules set", stderr)
	var b []byte
	a, done, err := parseAndOpen(fs, data, args, 1, "a rules JSON file", func() error {
		var err error
		if b, err = os.ReadFile(fs.Arg(0)); err != nil {
			return err
		}
		_, err = ledger.ParseRules(b)
		return err
	})
	if err != nil {
		return err
	}
	defer done()
	v, err := a.SetRulesJSON(b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rules version %d\n", v)
	return nil
}

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("report", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	a, done, err := parseAndOpen(fs, data, args, 0, "no arguments", nil)
	if err != nil {
		return err
	}
	defer done()
	rep, err := a.Report()
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "DEVICE\tKIND\tRECORDS\tDEBITS\tLOADS\tREVERSALS\tOPEN\tUNCERTAIN\tGAPS\tCHAIN\tFORKS\tTAC OK\tTAC BAD\tTAC ?")
	for _, d := range rep.Devices {
		s := d.Stats
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s (%d)\t%s (%d)\t%s (%d)\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", d.ID, d.Kind, s.Records,
			yuan(s.Debits), s.DebitCount, yuan(s.Loads), s.LoadCount, yuan(s.Reversals), s.ReversalCount,
			s.OpenIntents, s.Uncertain, s.Gaps, s.ChainBroken, s.Forks, s.TACVerified, s.TACBad, s.TACUnverifiable)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range rep.Devices {
		for _, f := range d.Flagged {
			fmt.Fprintf(stdout, "TAC %s: %s seq %d card %s %s: %s\n", f.Result, f.Device, f.Seq, f.CardNo, yuan(f.Amount), f.Reason)
		}
		if len(d.UncertainIntents) > 0 {
			fmt.Fprintf(stdout, "uncertain intents: %s %v\n", d.ID, d.UncertainIntents)
		}
		reportDevice(stdout, d)
	}
	for _, s := range rep.Sightings {
		fmt.Fprintf(stdout, "%s card %s presented at %s %s (%s, record %d)\n", s.Reason, s.CardNo, s.Device, s.Time.Format(time.RFC3339), s.Kind, s.Seq)
	}
	for _, a := range rep.Alerts {
		fmt.Fprintln(stdout, a.String())
	}
	fmt.Fprintf(stdout, "status list version %d, %d cards\n", rep.StatusVersion, rep.StatusCards)
	return nil
}

func yuan(fen int64) string { return ledger.Yuan(fen) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdAlerts(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("alerts", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	a, done, err := parseAndOpen(fs, data, args, 0, "no arguments", nil)
	if err != nil {
		return err
	}
	defer done()
	alerts, err := a.Alerts()
	if err != nil {
		return err
	}
	if *asJSON {
		if alerts == nil {
			alerts = []ledger.Alert{}
		}
		return writeJSON(stdout, alerts)
	}
	for _, al := range alerts {
		fmt.Fprintln(stdout, al.String())
	}
	if len(alerts) == 0 {
		fmt.Fprintln(stdout, "no alerts")
	}
	return nil
}

// reportDevice prints the lines of a device's report below the table:
// refusals, revocation, journal epochs.
func reportDevice(w io.Writer, d ledger.DeviceReport) {
	if len(d.Stats.Refusals) > 0 {
		parts := make([]string, 0, len(d.Stats.Refusals))
		for _, r := range slices.Sorted(maps.Keys(d.Stats.Refusals)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, d.Stats.Refusals[r]))
		}
		fmt.Fprintf(w, "refusals %s: %s\n", d.ID, strings.Join(parts, ", "))
	}
	if d.Stats.ReversalsRefused > 0 {
		fmt.Fprintf(w, "reversals refused %s: %d for %s, no load made (see the alerts)\n", d.ID, d.Stats.ReversalsRefused, ledger.Yuan(d.Stats.ReversalsRefusedAmount))
	}
	if !d.Revoked.IsZero() {
		fmt.Fprintf(w, "REVOKED %s since %s: %d records collected after the revocation (%d made after it), never trusted with money\n",
			d.ID, d.Revoked.Format(time.RFC3339), d.Stats.CollectedAfterRevoke, d.Stats.MadeAfterRevoke)
	}
	if !d.Stats.RevokedNoticed.IsZero() {
		fmt.Fprintf(w, "%s journaled that the ledger revoked it at %s (record %d)\n", d.ID, d.Stats.RevokedNoticed.Format(time.RFC3339), d.Stats.RevokedNoticedSeq)
	}
	reportPSAM(w, d)
	if d.Epoch > 0 || len(d.ClosedEpochs) > 0 {
		started := ""
		if !d.EpochStarted.IsZero() {
			started = " started " + d.EpochStarted.Format(time.RFC3339) + " (store-started)"
		}
		fmt.Fprintf(w, "epochs %s: current %d%s through record %d\n", d.ID, d.Epoch, started, d.HighWater)
		for _, c := range d.ClosedEpochs {
			fmt.Fprintf(w, "  epoch %d closed %s at record %d, %d records after it closed; stranded intents: open %v uncertain %v\n",
				c.Epoch, c.Closed.Format(time.RFC3339), c.HighWater, c.Late, c.OpenIntents, c.UncertainIntents)
		}
	}
}
