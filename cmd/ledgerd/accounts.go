package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
)

// stdin is where --pin-stdin and --national-id-stdin read (a PIN or an ID
// number on the command line would stay in the shell's history and ps).
var stdin io.Reader = os.Stdin

// secrets reads the PIN (first line) and then the ID number (next line)
// from stdin, as the flags ask.
func secrets(pin, id bool) (p, n string, err error) {
	if !pin && !id {
		return "", "", nil
	}
	sc := bufio.NewScanner(io.LimitReader(stdin, 4096))
	line := func(what string) (string, error) {
		if !sc.Scan() {
			return "", usageError("no %s on stdin", what)
		}
		return strings.TrimSpace(sc.Text()), nil
	}
	if pin {
		if p, err = line("PIN"); err != nil {
			return "", "", err
		}
	}
	if id {
		if n, err = line("ID number"); err != nil {
			return "", "", err
		}
	}
	return p, n, nil
}

func fen(name, s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, usageError("%s: amount %q: want a positive number of fen", name, s)
	}
	return v, nil
}

// accountFlags are the flags of account add and account set.
type accountFlags struct {
	state, bank, valid *string
	txLimit, purse     *int64
	pin, id            *bool
}

func newAccountFlags(fs *flag.FlagSet) accountFlags {
	return accountFlags{
		state:   fs.String("state", "", "state: "+strings.Join(stateList(), ", ")),
		bank:    fs.String("bank", "", "bank account bound for 银校转账"),
		valid:   fs.String("valid-until", "", "validity end YYYYMMDD"),
		txLimit: fs.Int64("tx-limit", 0, "the holder's per-transaction limit in fen (default 5000)"),
		purse:   fs.Int64("purse-limit", 0, "the card's maximum balance in fen (default 100000)"),
		pin:     fs.Bool("pin-stdin", false, "read the holder's PIN from the first line of stdin"),
		id:      fs.Bool("national-id-stdin", false, "read the national ID number from the next line of stdin"),
	}
}

func stateList() []string {
	out := make([]string, len(accounts.States))
	for i, s := range accounts.States {
		out[i] = string(s)
	}
	return out
}

func cmdAccountAdd(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("account add", stderr)
	card := fs.String("card", "", "the holder's card number (required)")
	af := newAccountFlags(fs)
	var p ledger.AccountParams
	a, done, err := parseAndOpen(fs, data, args, 1, "an account id (the holder's number)", func() error {
		if *card == "" {
			return usageError("account add: --card CARD is required")
		}
		pin, id, err := secrets(*af.pin, *af.id)
		p = ledger.AccountParams{ID: fs.Arg(0), Card: *card, ValidUntil: *af.valid, TxLimit: *af.txLimit, PurseLimit: *af.purse,
			State: *af.state, PIN: pin, NationalID: id, BankAccount: *af.bank}
		return err
	})
	if err != nil {
		return err
	}
	defer done()
	v, err := a.AddAccount(p)
	if err != nil {
		return err
	}
	printAccount(stdout, v)
	return nil
}

func cmdAccountShow(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("account show", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	a, done, err := parseAndOpen(fs, data, args, 1, "an account id or card number", nil)
	if err != nil {
		return err
	}
	defer done()
	r, err := a.ShowAccount(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, r)
	}
	printAccount(stdout, r.Account)
	for _, o := range r.OldCards {
		if !o.Released {
			fmt.Fprintf(stdout, "old card %s: %s\n", o.Card, o.Waiting)
		}
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tAMOUNT\tBALANCE\tFOR LOADING\tREF")
	for _, e := range r.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Kind, yuan(e.Amount), yuan(e.Balance), yuan(e.Loadable), e.Ref)
	}
	return tw.Flush()
}

func printAccount(w io.Writer, v accounts.View) {
	fmt.Fprintf(w, "account %s: card %s, %s, valid until %s\n", v.ID, v.Card, v.State, orDash(v.ValidUntil))
	fmt.Fprintf(w, "balance %s, for loading %s, authorised loads %s; per-transaction limit %s, purse limit %s\n",
		yuan(v.Balance), yuan(v.Loadable), yuan(v.Authorised), yuan(v.TxLimit), yuan(v.PurseLimit))
	fmt.Fprintf(w, "PIN set %v (wrong tries %d), ID number set %v, bank account %s\n", v.PINSet, v.PINTries, v.IDSet, orDash(v.BankAccount))
	for _, o := range v.OldCards {
		rel := "not released"
		if !o.Released.IsZero() {
			rel = fmt.Sprintf("released %s at %s", yuan(o.ReleasedAmount), o.Released.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "old card %s cancelled %s, balance %s\n", o.No, o.Cancelled.Format(time.RFC3339), rel)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdAccountSet(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("account set", stderr)
	af := newAccountFlags(fs)
	var ch ledger.AccountChange
	a, done, err := parseAndOpen(fs, data, args, 1, "an account id", func() error {
		pin, id, err := secrets(*af.pin, *af.id)
		if err != nil {
			return err
		}
		n := 0
		fs.Visit(func(f *flag.Flag) {
			n++
			switch f.Name {
			case "state":
				ch.State = af.state
			case "bank":
				ch.BankAccount = af.bank
			case "tx-limit":
				ch.TxLimit = af.txLimit
			case "purse-limit":
				ch.PurseLimit = af.purse
			case "pin-stdin":
				ch.PIN = &pin
			case "national-id-stdin":
				ch.NationalID = &id
			case "valid-until":
				n = -100
			default:
				n-- // --data
			}
		})
		switch {
		case n < 0:
			return usageError("account set: the validity end changes with account extend")
		case n == 0:
			return usageError("account set: nothing to change")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	v, err := a.SetAccount(fs.Arg(0), ch)
	if err != nil {
		return err
	}
	printAccount(stdout, v)
	return nil
}

func cmdAccountExtend(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("account extend", stderr)
	file := fs.String("file", "", "the registry's extensions: one `ID YYYYMMDD` a line; each becomes a card write, the end changing when the card is written")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("account extend: %v", err)
	}
	switch {
	case *data == "":
		return usageError("account extend: --data DIR is required")
	case *file == "" && fs.NArg() != 2:
		return usageError("account extend: want an account id and a date YYYYMMDD, or --file FILE")
	case *file != "" && fs.NArg() != 0:
		return usageError("account extend: --file FILE takes no arguments")
	}
	var ext []ledger.Extension
	if *file != "" {
		b, err := readBounded(*file, ledger.MaxExtendFile)
		if err != nil {
			return err
		}
		if ext, err = ledger.ParseExtensions(b); err != nil {
			return fmt.Errorf("%s: %w (nothing changed)", *file, err)
		}
	}
	a, done, err := openAdmin(*data)
	if err != nil {
		return err
	}
	defer done()
	if *file == "" {
		v, err := a.ExtendAccount(fs.Arg(0), fs.Arg(1))
		if err != nil {
			return err
		}
		printAccount(stdout, v)
		return nil
	}
	r, err := a.ExtendAccounts(ext)
	if err != nil {
		return fmt.Errorf("%s: %w (nothing changed)", *file, err)
	}
	fmt.Fprintf(stdout, "%d lines: %d extended (card writes pending; %d replaced a pending one), %d unchanged, %d not found, %d refused\n",
		len(ext), r.Extended, r.Replaced, r.Unchanged, len(r.NotFound), len(r.Refused))
	for _, id := range r.NotFound {
		fmt.Fprintf(stdout, "not found: %s\n", id)
	}
	for _, x := range r.Refused {
		fmt.Fprintf(stdout, "refused: %s\n", x)
	}
	return nil
}

// readBounded reads the operator's file path, at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than %d bytes: not an extension file", path, max)
	}
	return b, nil
}

func cmdAccountReissue(args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("account reissue", stderr)
	a, done, err := parseAndOpen(fs, data, args, 2, "an account id and the new card number", nil)
	if err != nil {
		return err
	}
	defer done()
	v, err := a.ReissueCard(fs.Arg(0), fs.Arg(1))
	if err != nil {
		return err
	}
	printAccount(stdout, v)
	fmt.Fprintln(stdout, "the old card is cancelled on the status list; its balance moves to the account after 24 h and a complete offline record")
	return nil
}

func cmdAccountMoney(name string, op func(a ledger.Admin, id string, amount int64, ref string) (accounts.View, error)) func(args []string, stdout, stderr io.Writer) error {
	return func(args []string, stdout, stderr io.Writer) error {
		fs, data := newFlags("account "+name, stderr)
		ref := fs.String("ref", "", "where the money came from (a receipt, a payment reference)")
		var amount int64
		a, done, err := parseAndOpen(fs, data, args, 2, "an account id and an amount in fen", func() error {
			var err error
			amount, err = fen("account "+name, fs.Arg(1))
			return err
		})
		if err != nil {
			return err
		}
		defer done()
		v, err := op(a, fs.Arg(0), amount, *ref)
		if err != nil {
			return err
		}
		printAccount(stdout, v)
		return nil
	}
}
