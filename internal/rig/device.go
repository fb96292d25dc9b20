package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

// device is one `yktd run` of a scenario, over its restarts.
type device struct {
	spec    *DeviceSpec
	bin     string
	dir     string // its data directory (--dir)
	logs    string
	cfgPath string
	token   string // the enrolment token it is started with
	proxy   *proxy // its network to the ledger; nil without one
	readers []string

	proc *proc
	runs int
	ctl  *terminal.ControlClient
	// cardCtl drives its cards: its own /sim/ (simulator) or its vcard's.
	cardCtl *terminal.ControlClient
	vcard   *vcardProc

	tapSeen uint64         // the last tap record consumed (per run)
	markOut int            // the display (stdout) since the last action
	markErr int            // the log (stderr) since the last action
	loaded  map[string]int // card → the version of its state this run holds
	inField string         // the card in its reader's field, or ""
}

// readerNames lists the [[reader]] names of a configuration.
func readerNames(cfg []byte) ([]string, error) {
	var c struct {
		Reader []struct {
			Name string `toml:"name"`
		} `toml:"reader"`
	}
	if _, err := toml.Decode(string(cfg), &c); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range c.Reader {
		out = append(out, r.Name)
	}
	return out, nil
}

// enrolled reports whether a start has pinned the ledger's key (the
// token is used up then).
func (d *device) enrolled() bool {
	_, err := os.Stat(filepath.Join(d.dir, "ledger.pub"))
	return err == nil
}

// args is the command line of the next start.
func (d *device) args() []string {
	var a []string
	if d.spec.Reader == ReaderVCard {
		a = []string{"run", "--config", d.cfgPath}
	} else {
		a = []string{"run", "--sim", "--config", d.cfgPath, "--dir", d.dir, "--auto", "0"}
		if d.proxy == nil {
			a = append(a, "--no-ledger")
		}
	}
	if d.token != "" && !d.enrolled() {
		a = append(a, "--enrol", d.token)
	}
	return a
}

var controlLogRE = regexp.MustCompile(`yktd: running.*\bcontrol=("?)([^\s"]+)`)

// start runs the daemon and waits until its control interface answers
// (or the process ends: an enrolment refused ends it, which a scenario
// may expect).
func (d *device) start(ctx context.Context, versions map[string]int) error {
	if d.proc != nil && d.proc.running() {
		return fmt.Errorf("rig: %s is running already", d.spec.Name)
	}
	d.runs++
	name, base := d.spec.Name, d.spec.Name
	if d.runs > 1 {
		name, base = fmt.Sprintf("%s (run %d)", d.spec.Name, d.runs), fmt.Sprintf("%s.%d", d.spec.Name, d.runs)
	}
	addrFile := filepath.Join(d.dir, "control.addr")
	_ = os.Remove(addrFile)
	p, err := startProc(name, d.logs, base, d.bin, d.args())
	if err != nil {
		return err
	}
	d.proc, d.ctl, d.tapSeen, d.markOut, d.markErr, d.inField = p, nil, 0, 0, 0, ""
	if d.vcard == nil || d.loaded == nil {
		d.loaded = map[string]int{}
		for c, v := range versions {
			d.loaded[c] = v // a start loads every card from its file
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		addr := ""
		if d.spec.Reader == ReaderVCard {
			logs, _ := p.stderr.since(0)
			if m := controlLogRE.FindStringSubmatch(logs); m != nil {
				addr = m[2]
			}
		} else if b, err := os.ReadFile(addrFile); err == nil && strings.HasSuffix(string(b), "\n") {
			addr = strings.TrimSpace(string(b))
		}
		if addr != "" {
			c, err := terminal.NewControlClient(d.dir, addr)
			if err != nil {
				return fmt.Errorf("rig: %s: %w", d.spec.Name, err)
			}
			d.ctl = c
			if d.vcard == nil {
				d.cardCtl = c
			}
			return nil
		}
		if !p.running() {
			return nil // ended at start: the steps say whether that was right
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rig: %s: no control interface within 60s", d.spec.Name)
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond): // polling a file, bounded by the deadline
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// running reports whether the current run's process lives.
func (d *device) running() bool { return d.proc != nil && d.proc.running() }

// need fails unless the device runs with its control interface.
func (d *device) need() error {
	if !d.running() || d.ctl == nil {
		state := "was never started"
		if d.proc != nil {
			state = "has ended: " + d.proc.exitText()
		}
		return fmt.Errorf("rig: %s %s", d.spec.Name, state)
	}
	return nil
}

// kill ends the run with SIGKILL (a power cut).
func (d *device) kill(ctx context.Context) error {
	if !d.running() {
		return fmt.Errorf("rig: kill %s: not running", d.spec.Name)
	}
	d.proc.signal(syscall.SIGKILL)
	err := d.proc.wait(ctx, 30*time.Second)
	d.inField, d.ctl = "", nil
	return err
}

// stop ends the run with SIGTERM and waits for it (the daemon finishes a
// tap in progress and closes the store).
func (d *device) stop(ctx context.Context) error {
	if !d.running() {
		return fmt.Errorf("rig: stop %s: not running", d.spec.Name)
	}
	_ = d.proc.stdin.Close()
	d.proc.signal(syscall.SIGTERM)
	err := d.proc.wait(ctx, 30*time.Second)
	d.inField, d.ctl = "", nil
	return err
}

// mark starts the display and the log anew for the expectations that
// follow an action.
func (d *device) mark() {
	if d.proc != nil {
		d.markOut, d.markErr = d.proc.stdout.len(), d.proc.stderr.len()
	}
}

// display returns what the console showed since the mark, cursor
// controls removed.
func (d *device) display() string {
	if d.proc == nil {
		return ""
	}
	s, _ := d.proc.stdout.since(d.markOut)
	return cleanConsole(s)
}

// logSince returns the log since the mark.
func (d *device) logSince() string {
	if d.proc == nil {
		return ""
	}
	s, _ := d.proc.stderr.since(d.markErr)
	return s
}

// cleanConsole drops the console's line-editing controls (CR, ESC [ K).
func cleanConsole(s string) string {
	return strings.NewReplacer("\r", "", "\x1b[K", "").Replace(s)
}

// reader returns the reader a tap or remove goes to.
func (d *device) reader(name string) (string, error) {
	if d.vcard != nil {
		return "vpcd", nil
	}
	if name == "" {
		if len(d.readers) == 0 {
			return "", fmt.Errorf("rig: %s has no reader", d.spec.Name)
		}
		return d.readers[0], nil
	}
	for _, r := range d.readers {
		if r == name {
			return r, nil
		}
	}
	return "", fmt.Errorf("rig: %s has no reader %q (it has %s)", d.spec.Name, name, strings.Join(d.readers, ", "))
}

// shutdown ends whatever still runs, at the end of the scenario.
func (d *device) shutdown() {
	if d.proc != nil {
		d.proc.stop(15 * time.Second)
	}
	if d.vcard != nil {
		d.vcard.stop()
	}
	if d.proxy != nil {
		_ = d.proxy.close()
	}
}

// issueCard writes the card's state file into dir (dir/NAME.json): issued
// with the test keys of reader/sam, as the demo cards are, then given the
// counters and PIN tries the scenario asks for.
func issueCard(dir string, c *CardSpec, now time.Time) error {
	start, err := resolveDate(c.Start, now)
	if err != nil {
		return err
	}
	expiry, err := resolveDate(c.Expiry, now)
	if err != nil {
		return err
	}
	p := sim.Profile{
		CardNo: c.No, Issuer: sim.DemoIssuer, Class: c.Class.Value, Status: byte(c.Status), StatusListVersion: 1,
		Start: start, Expiry: expiry, Algorithm: epurse.AlgDES, KeyVersion: 1, KeyIndex: 1, PIN: c.PIN,
		Overdraft: uint32(c.Overdraft),
	}
	kf := sam.TestKeys()
	card, err := sim.NewCard(p, kf.Keys[p.KeyVersion], uint32(*c.Balance))
	if err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	path := filepath.Join(dir, c.Name+".json")
	if err := card.Save(path); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	if c.OfflineCounter == 0 && c.OnlineCounter == 0 && c.PINTries == nil {
		return nil
	}
	// The counters and tries are EEPROM state a fresh card starts without:
	// set them in the state file (reader/sim's format), then check it loads.
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	st["offline_counter"], st["online_counter"] = c.OfflineCounter, c.OnlineCounter
	if c.PINTries != nil {
		st["pin_tries"] = *c.PINTries
	}
	if b, err = json.MarshalIndent(st, "", "  "); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	if _, err := sim.LoadCard(path); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	return nil
}

// cardStatus reads a card's state from its file, where every device that
// holds it writes each change before the card answers.
func cardStatus(dir, name string) (sim.Status, error) {
	c, err := sim.LoadCard(filepath.Join(dir, name+".json"))
	if err != nil {
		return sim.Status{}, err
	}
	return c.Status(), nil
}
