package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sam"
)

// ledgerProc is the scenario's `ledgerd serve` and its data directory.
type ledgerProc struct {
	bin  string
	dir  string // data directory
	keys string // the issuer key file (the test keys)
	logs string
	proc *proc
	addr string // where it listens now
	runs int
	// offset is the ledger's clock ahead of the system's (clock steps at
	// "ledger"): ledgerd serve --clock-offset.
	offset time.Duration
	// onStart is called with the new address after each start (the
	// proxies follow it).
	onStart func(addr string)
}

// cmdLimit bounds one operator command.
const cmdLimit = 30 * time.Second

// initLedger creates the ledger's data and key files.
func initLedger(ctx context.Context, bin, root, logs string) (*ledgerProc, error) {
	l := &ledgerProc{bin: bin, dir: filepath.Join(root, "ledger"), keys: filepath.Join(root, "issuer-keys.json"), logs: logs}
	if err := os.WriteFile(l.keys, sam.TestKeyFile, 0o600); err != nil {
		return nil, fmt.Errorf("rig: issuer keys: %w", err)
	}
	if _, stderr, code, err := runCmd(ctx, cmdLimit, bin, "init", "--data", l.dir); err != nil || code != 0 {
		return nil, fmt.Errorf("rig: ledgerd init: exit %d: %v %s", code, err, strings.TrimSpace(stderr))
	}
	return l, nil
}

var servingRE = regexp.MustCompile(`ledgerd serving on (\S+)`)

// start runs `ledgerd serve` on a free loopback port and waits until it
// says where it listens.
func (l *ledgerProc) start(ctx context.Context) error {
	if l.proc != nil && l.proc.running() {
		return fmt.Errorf("rig: the ledger is running already")
	}
	l.runs++
	name, base := "ledger", "ledger"
	if l.runs > 1 {
		name, base = fmt.Sprintf("ledger (run %d)", l.runs), fmt.Sprintf("ledger.%d", l.runs)
	}
	args := []string{"serve", "--data", l.dir, "--listen", "127.0.0.1:0", "--issuer-keys", l.keys}
	if l.offset != 0 {
		args = append(args, "--clock-offset", l.offset.String())
	}
	p, err := startProc(name, l.logs, base, l.bin, args)
	if err != nil {
		return err
	}
	l.proc = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, changed := p.stdout.since(0)
		if m := servingRE.FindStringSubmatch(out); m != nil {
			l.addr = m[1]
			if l.onStart != nil {
				l.onStart(l.addr)
			}
			return nil
		}
		if !p.running() {
			return fmt.Errorf("rig: ledgerd serve ended (%s) before serving: %s", p.exitText(), p.stderr.tail(5))
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return fmt.Errorf("rig: ledgerd serve did not serve within 30s: %s", p.stderr.tail(5))
		}
		select {
		case <-changed:
		case <-p.done:
		case <-time.After(min(wait, 200*time.Millisecond)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// command runs an operator command: ledgerd WORDS --data DIR ARGS... It
// reaches the serving ledger through its admin socket, or opens the
// database while none serves.
func (l *ledgerProc) command(ctx context.Context, words string, args ...string) (stdout, stderr string, code int, err error) {
	argv := append(strings.Fields(words), "--data", l.dir)
	return runCmd(ctx, cmdLimit, l.bin, append(argv, args...)...)
}

// addAccount opens the account of a scenario's card (CardSpec.Account):
// its PIN and ID number go on stdin; an error names neither.
func (l *ledgerProc) addAccount(ctx context.Context, c *CardSpec) error {
	args := []string{"account", "add", "--data", l.dir, "--card", c.No, "--pin-stdin"}
	input := c.PIN + "\n"
	if c.NationalID != "" {
		args = append(args, "--national-id-stdin")
		input += c.NationalID + "\n"
	}
	if c.Listed != "" {
		args = append(args, "--state", c.Listed)
	}
	args = append(args, c.Account)
	_, errOut, code, err := runCmdInput(ctx, cmdLimit, input, l.bin, args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("rig: ledgerd account add %s (card %s): exit %d: %s", c.Account, c.Name, code, strings.TrimSpace(errOut))
	}
	return err
}

// must runs a command that has to succeed and returns its stdout.
func (l *ledgerProc) must(ctx context.Context, words string, args ...string) (string, error) {
	out, errOut, code, err := l.command(ctx, words, args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("rig: ledgerd %s %s: exit %d: %s", words, strings.Join(args, " "), code, strings.TrimSpace(errOut))
	}
	return out, err
}

// fingerprint is protocol.Fingerprint of the ledger's public key, for a
// device configuration that pins it.
func (l *ledgerProc) fingerprint(ctx context.Context) (string, error) {
	out, err := l.must(ctx, "keys", "--pem")
	if err != nil {
		return "", err
	}
	pk, err := protocol.DecodePublicKeyPEM([]byte(out))
	if err != nil {
		return "", fmt.Errorf("rig: ledger key: %w", err)
	}
	return protocol.Fingerprint(pk.Key), nil
}
