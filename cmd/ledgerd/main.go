// Command ledgerd is the reference central ledger of yktd: it serves the
// /v1/ protocol endpoints to enrolled terminals (package ledger) and gives
// the operator its tools: enrolment tokens, devices, status lists, pending
// loads, rules, the settlement report and the ledger key for provisioning.
//
// While "ledgerd serve" runs it holds the database; the other commands then
// reach it through the admin socket in the data directory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks wrong command-line use: exit code 2.
var errUsage = errors.New("usage")

func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

const usageText = `usage: ledgerd <command> [flags] [arguments]

commands:
  serve         --data DIR [--listen 127.0.0.1:8470] [--issuer-keys FILE] [--tls-cert F --tls-key F]
                [--max-requests 64] [--max-body-mib 32] [--body-timeout 30s] [--max-offline 168h]
                [--timezone Asia/Shanghai] [--clock-offset 0s]
                serve the /v1/ protocol endpoints and the admin socket
  init          --data DIR                    create the ledger (database and signing key) in DIR
  keys          --data DIR [--pem | --fingerprint]
                print the ledger key id, public key and fingerprint (for provisioning)
  token new     --data DIR --device ID [--kind pos|gate|kiosk|desk]
                print a one-time enrolment token for a device
  device list   --data DIR [--json]           list devices
  device revoke --data DIR ID                 revoke a device: nothing but its remaining records from now on
  device rekey  --data DIR ID                 print a token whose enrolment replaces the device's key
  device rebind --data DIR [--terminal HEX] ID
                bind a PSAM terminal id (default: the one the device last presented) to the device
                and lift the ledger's hold on it; the device that had it loses it
  status add    --data DIR CARD REASON        list a card (lost, frozen, dormant, cancelled, expired)
  status remove --data DIR CARD               take a card off the status list
  load add      --data DIR CARD AMOUNT        money waiting for a card (AMOUNT in fen)
  load list     --data DIR CARD               the loads waiting for a card
  load cancel   --data DIR LOAD-ID            withdraw a pending load
  account add   --data DIR --card CARD [--valid-until YYYYMMDD] [--tx-limit FEN] [--purse-limit FEN]
                [--state S] [--bank ACCOUNT] [--pin-stdin] [--national-id-stdin] ID
                open a holder's account (PIN, then ID number, one a line on stdin)
  account show  --data DIR [--json] ID|CARD   an account, its old cards and its movements
  account set   --data DIR [--state S] [--tx-limit FEN] [--purse-limit FEN] [--bank ACCOUNT]
                [--pin-stdin] [--national-id-stdin] ID
                change an account (states: normal, lost, frozen, dormant, cancelled, expired,
                spend-only, overdrawn-frozen); a new PIN unlocks a locked one
  account extend --data DIR ID YYYYMMDD       the validity end (延期)
  account extend --data DIR --file F          the registry's extensions, one "ID YYYYMMDD" a line: each a
                                              pending card write (the end changes when the card is written)
  account reissue --data DIR ID NEWCARD       a new card for the account; the old one cancelled
  account repay --data DIR [--ref R] ID FEN   repay an overdraft (overdrawn-frozen: normal once repaid)
  account topup --data DIR [--ref R] ID FEN   money for loading (圈存) onto the holder's card
  rules set     --data DIR FILE               make the rules JSON file the next rules version
  report        --data DIR [--json]           per device: records, debits, loads, intents, refusals, TACs, alerts
  alerts        --data DIR [--json]           every alert: forks, refused reversals and rebinds, epochs, PSAMs moved
  version                                     print the version

Exit codes: 0 success, 1 failure, 2 wrong usage.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "ledgerd: %v\n\n%s", err, usageText)
		return 2
	}
	fmt.Fprintf(stderr, "ledgerd: %v\n", err)
	return 1
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageText)
		if len(args) == 0 {
			return usageError("no command")
		}
		return nil
	}
	name, rest := args[0], args[1:]
	switch name {
	case "token", "device", "status", "load", "rules", "account":
		switch {
		case len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help"):
			fmt.Fprint(stderr, groupUsage(name))
			return nil
		case len(args) < 2 || strings.HasPrefix(args[1], "-"):
			return usageError("%s needs a subcommand", name)
		}
		name, rest = name+" "+args[1], args[2:]
	}
	if cmd, ok := commands[name]; ok {
		return cmd(rest, stdout, stderr)
	}
	return usageError("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
}

// commands maps each command line's command (with its subcommand) to
// what runs it with the rest of the arguments.
var commands = map[string]func(args []string, stdout, stderr io.Writer) error{
	"serve":         cmdServe,
	"init":          cmdInit,
	"keys":          cmdKeys,
	"token new":     cmdTokenNew,
	"device list":   cmdDeviceList,
	"device revoke": cmdDeviceRevoke,
	"device rekey":  cmdDeviceRekey,
	"device rebind": cmdDeviceRebind,
	"alerts":        cmdAlerts,
	"status add": func(args []string, stdout, stderr io.Writer) error {
		return cmdStatus(true, args, stdout, stderr)
	},
	"status remove": func(args []string, stdout, stderr io.Writer) error {
		return cmdStatus(false, args, stdout, stderr)
	},
	"load add":    cmdLoadAdd,
	"load list":   cmdLoadList,
	"load cancel": cmdLoadCancel,
	"rules set":   cmdRulesSet,
	"report":      cmdReport,
	"version":     cmdVersion,

	"account add":     cmdAccountAdd,
	"account show":    cmdAccountShow,
	"account set":     cmdAccountSet,
	"account extend":  cmdAccountExtend,
	"account reissue": cmdAccountReissue,
	"account repay": cmdAccountMoney("repay", func(a ledger.Admin, id string, amount int64, ref string) (accounts.View, error) {
		return a.Repay(id, amount, ref)
	}),
	"account topup": cmdAccountMoney("topup", func(a ledger.Admin, id string, amount int64, ref string) (accounts.View, error) {
		return a.TopUp(id, amount, ref)
	}),
}

// groupUsage is the usage of a command group (token, device, ...): its
// lines of usageText.
func groupUsage(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: ledgerd %s <subcommand> [flags] [arguments]\n\nsubcommands:\n", group)
	in := false
	for _, line := range strings.Split(usageText, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+group+" "):
			in = true
		case !strings.HasPrefix(line, "    "):
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("version: %v", err)
	}
	if fs.NArg() != 0 {
		return usageError("version takes no arguments")
	}
	fmt.Fprintf(stdout, "ledgerd %s\n", version)
	return nil
}

// newFlags returns a flag set for a command with the --data flag.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory of the ledger (required)")
	return fs, data
}

// parse parses args, mapping flag errors to usage errors, and checks the
// data flag and the number of positional arguments.
func parse(fs *flag.FlagSet, data *string, args []string, nargs int, what string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%s: %v", fs.Name(), err)
	}
	if *data == "" {
		return usageError("%s: --data DIR is required", fs.Name())
	}
	if fs.NArg() != nargs {
		return usageError("%s: want %s", fs.Name(), what)
	}
	return nil
}
