// Package rig runs scenario files against the real binaries: a `ledgerd
// serve` process, `yktd run` processes on the simulator (or on virtual
// cards behind a real pcscd), cards in state files, and steps that tap,
// tear, type, kill, cut the network and step clocks, with expectations
// checked against what the processes show, journal and report. `yktd rig
// run` is its command line; docs/rig.md is the test engineer's manual of
// the scenario format.
//
// A scenario file is TOML, decoded strictly (an unknown key is refused
// with its line). Parse checks it whole before anything runs; Run runs
// scenarios isolated (own directory, own processes and ports), in
// parallel, and reports each with a timeline and as JUnit XML.
package rig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ErrScenario marks a scenario file that cannot be run as written: bad
// TOML, an unknown key, a missing or contradictory field, a reference to
// a card or device it does not declare.
var ErrScenario = errors.New("rig: bad scenario")

// MaxScenarioSize bounds a scenario file.
const MaxScenarioSize = 1 << 20

// Scenario is one scenario file (docs/rig.md documents every field).
type Scenario struct {
	// File is the path it was read from (set by Load).
	File string `toml:"-"`
	// Name names it in reports; default the file's base name.
	Name string `toml:"name"`
	// Rule is the campus rule it proves (DESIGN §1), in words.
	Rule string `toml:"rule"`
	// Doc says what it does, what waits and why.
	Doc string `toml:"doc"`
	// Pending: the whole scenario waits for an issue; it is reported as
	// skipped with it, never as passed (unless Options.RunPending).
	Pending *Pending `toml:"pending"`
	// Timeout bounds the whole run (default 3m).
	Timeout Duration `toml:"timeout"`
	// Within is the default time an expectation may take (default 10s).
	Within Duration `toml:"within"`

	Ledger  *LedgerSpec  `toml:"ledger"`
	Devices []DeviceSpec `toml:"device"`
	Cards   []CardSpec   `toml:"card"`
	Steps   []Step       `toml:"step"`
}

// Pending names the issue a scenario or a step waits for.
type Pending struct {
	Issue int    `toml:"issue"`
	Why   string `toml:"why"`
}

// LedgerSpec declares the ledger: a `ledgerd serve` process with its own
// data directory and port, holding the test issuer keys.
type LedgerSpec struct {
	// Rules are the first rules version (protocol.Rules' JSON names, as
	// `ledgerd rules set` takes them), or nil for none.
	Rules map[string]any `toml:"rules"`
}

// Device kinds a scenario may declare.
const (
	KindPOS   = "pos"
	KindGate  = "gate"
	KindKiosk = "kiosk" // 圈存机: a card placed claims the money waiting for it
)

// Readers a device may take its cards from.
const (
	ReaderSim   = "sim"   // yktd run --sim: virtual readers in the daemon
	ReaderVCard = "vcard" // yktd run --config, a PC/SC reader: yktd rig vcard behind pcscd + vpcd
)

// Enrolment choices of a device.
const (
	EnrolToken = "token" // a one-time token from `ledgerd token new`
	EnrolNone  = "none"  // no token: the device runs unenrolled
)

// DeviceSpec declares one `yktd run` process.
type DeviceSpec struct {
	// Name is how steps call it ("pos"); letters, digits, - and _.
	Name string `toml:"name"`
	// ID is the device id (default "RIG-" and the name in capitals).
	ID string `toml:"id"`
	// Kind is pos (default), gate or kiosk: the demo configuration of
	// that kind is the base the Config overlay changes.
	Kind string `toml:"kind"`
	// Reader is sim (default) or vcard.
	Reader string `toml:"reader"`
	// Enrol is token (default with a ledger), none, or a literal token
	// ("{token.OTHER}" is the token issued to device OTHER).
	Enrol string `toml:"enrol"`
	// Ledger: whether sync.ledger points at the ledger (through the
	// device's network proxy); default true when a ledger is declared.
	Ledger *bool `toml:"ledger"`
	// Start: whether it starts before the first step (default true).
	Start *bool `toml:"start"`
	// Config is merged over the base configuration, key by key
	// (docs/config.md): [device.config.pos] mode = "keyed".
	Config map[string]any `toml:"config"`
}

// CardSpec declares one virtual card, issued with the test keys into the
// scenario's cards folder before anything starts.
type CardSpec struct {
	// Name is how steps call it ("alice").
	Name string `toml:"name"`
	// No is the card number (default 1001 2026 12 and a number of the
	// card's place in the file).
	No string `toml:"no"`
	// Balance in fen (default 10000, 100.00 yuan).
	Balance *int64 `toml:"balance"`
	// Class: student (default), staff, or a number 0-255.
	Class CardClass `toml:"class"`
	// PIN is the holder's PIN (default 123456, the campus's initial PIN).
	PIN string `toml:"pin"`
	// Start and Expiry are the validity dates: YYYYMMDD, "today", or
	// "today+30d" / "today-1d" (days, in Asia/Shanghai); default
	// today-90d to today+1095d.
	Start  string `toml:"start"`
	Expiry string `toml:"expiry"`
	// Listed puts the card on the ledger's status list before the devices
	// start: lost, frozen, dormant, cancelled or expired.
	Listed string `toml:"listed"`
	// Status is the card's own status byte of file 0x15 (0 normal).
	Status int `toml:"status"`
	// OfflineCounter, OnlineCounter: the purse's counters (default 0).
	OfflineCounter int `toml:"offline_counter"`
	OnlineCounter  int `toml:"online_counter"`
	// PINTries: the PIN tries left (default 3; 0 blocks the PIN).
	PINTries *int `toml:"pin_tries"`
	// Overdraft is the overdraft limit INITIALIZE reports (not granted).
	Overdraft int64 `toml:"overdraft"`
	// Account, if set, opens the holder's account at the ledger before
	// the devices start (ledgerd account add): that id (the student or
	// staff number), this card, the card's PIN as the account's PIN, and
	// the state the card is listed with (a card listed lost belongs to an
	// account reported lost).
	Account string `toml:"account"`
	// NationalID is the account's national ID number (解挂 checks it);
	// only with Account. It goes to the ledger on stdin, never on a
	// command line or into the timeline.
	NationalID string `toml:"national_id"`
}

// Step is one step: at most one action, then its expectations, each
// waited for up to Within.
type Step struct {
	// Line is the step's line in the file (set by Parse).
	Line int `toml:"-"`
	// Note describes the step in the timeline.
	Note string `toml:"note"`
	// At is the device an action or expectation concerns.
	At string `toml:"at"`
	// Within bounds the waiting for this step's expectations.
	Within Duration `toml:"within"`
	// Pending: the step waits for an issue and is not run (unless
	// Options.RunPending). Todo describes a step whose feature does not
	// exist yet; it needs Pending and has no action or expectation.
	Pending *Pending `toml:"pending"`
	Todo    string   `toml:"todo"`

	// Actions (one per step).
	Tap         string         `toml:"tap"`          // card name: into the field of At's reader
	Reader      string         `toml:"reader"`       // with tap and remove: which reader of At (default its first)
	Remove      string         `toml:"remove"`       // device: its reader's field emptied
	Fault       *FaultSpec     `toml:"fault"`        // arm a fault on a card, at At
	ClearFaults string         `toml:"clear_faults"` // card: its faults cleared, at At
	Keys        *string        `toml:"keys"`         // typed on At's keypad (its console's stdin)
	Input       string         `toml:"input"`        // board input of At ...
	Active      *bool          `toml:"active"`       // ... set active (default) or not
	Kill        string         `toml:"kill"`         // device or "ledger": SIGKILL
	Stop        string         `toml:"stop"`         // device or "ledger": SIGTERM, waited for
	StartProc   string         `toml:"start"`        // device or "ledger": started (again)
	Restart     string         `toml:"restart"`      // device or "ledger": SIGTERM, then started again
	Cut         string         `toml:"cut"`          // device: its network to the ledger cut
	CutMode     string         `toml:"mode"`         // with cut: drop (default: connections hang) or reset
	Heal        string         `toml:"heal"`         // device: its network restored
	Clock       string         `toml:"clock"`        // "+48h" / "-1h": At's clock stepped (simulator, or at = "ledger")
	Ledgerd     string         `toml:"ledgerd"`      // operator command ("status add"), with Args
	Args        []string       `toml:"args"`         // its arguments (after --data DIR)
	Pause       Duration       `toml:"pause"`        // real time that must pass (never to wait for an event)
	Control     string         `toml:"control"`      // "POST /v1/cancel-last": a request to At's control interface, with Body
	Body        map[string]any `toml:"body"`         // its JSON body (placeholders expanded)
	Kiosk       *KioskSpec     `toml:"kiosk"`        // the holder's self-service at At, a kiosk (POST /v1/kiosk/service or /report-loss)

	Expect Expect `toml:"expect"`
}

// FaultSpec is a sim fault (reader/sim Fault) armed on a card.
type FaultSpec struct {
	Card   string   `toml:"card"`
	Kind   string   `toml:"kind"` // tear-before, tear-after, garble, truncate, wrong-mac2, latency
	INS    string   `toml:"ins"`  // debit, init, verify, any, ... or two hex digits
	Nth    int      `toml:"nth"`
	Repeat bool     `toml:"repeat"`
	Delay  Duration `toml:"delay"`
	Keep   int      `toml:"keep"`
}

// Kiosk trades a kiosk step may ask for with the card in the reader
// (POST /v1/kiosk/service, docs/control.md).
var kioskTrades = []string{"change-pin", "set-limit", "unfreeze", "reactivate", "pay-fee", "statement"}

// KioskSpec is a kiosk step: the holder's self-service as the kiosk's
// page asks it. Trade runs on the card in the kiosk's reader (its session,
// {session.AT} unless Session names it); ReportLoss is 挂失 without the
// card, by the student or staff number. Exactly one of the two. The PIN,
// the new PIN and the ID number go to the device only: the timeline shows
// the trade and the answer, never them.
type KioskSpec struct {
	Trade      string `toml:"trade"`       // change-pin, set-limit, unfreeze, reactivate, pay-fee, statement
	ReportLoss string `toml:"report_loss"` // the account (student or staff number) reported lost; placeholders allowed
	Session    string `toml:"session"`     // default "{session.AT}": the session of the card in At's reader
	PIN        string `toml:"pin"`         // the holder's PIN (every trade)
	NewPIN     string `toml:"new_pin"`     // change-pin
	NationalID string `toml:"national_id"` // unfreeze
	TxLimit    *int64 `toml:"tx_limit"`    // set-limit: the per-transaction limit, fen
	OrderID    string `toml:"order_id"`    // pay-fee
	Service    string `toml:"service"`     // pay-fee: net, electricity
	Reference  string `toml:"reference"`   // pay-fee
	Amount     int64  `toml:"amount"`      // pay-fee: fen
	Count      int    `toml:"count"`       // statement: how many movements
}

// what names the step in the timeline, without its secrets.
func (k *KioskSpec) what() string {
	if k.ReportLoss != "" {
		return "report-loss of " + k.ReportLoss
	}
	return k.Trade
}

// KioskExpect is the answer of a kiosk step (a kiosk.Step as JSON). The
// answer is given: a mismatch fails at once.
type KioskExpect struct {
	Service   string   `toml:"service"`    // the trade's name, as the answer says it
	Outcome   string   `toml:"outcome"`    // nothing (done), refused, tap-again
	Code      string   `toml:"code"`       // unfrozen, limit_set, loss_reported, pin_changed, wrong_pin, ...
	Card      string   `toml:"card"`       // a card's name
	Writes    []string `toml:"writes"`     // the outcome of each card write, in order: written, failed, torn-unknown
	TriesLeft *int     `toml:"tries_left"` // after a wrong PIN or ID number (absent: 0)
	Balance   *int64   `toml:"balance"`
}

// Expect is what a step waits for; every field set must hold (each is
// polled until it does or the step's time is up).
type Expect struct {
	Tap       *TapExpect                `toml:"tap"`        // the next tap At reports
	Display   Texts                     `toml:"display"`    // shown on At's display since its last action
	NoDisplay Texts                     `toml:"no_display"` // not shown since then (checked last)
	Log       Texts                     `toml:"log"`        // in At's log since its last action
	NoLog     Texts                     `toml:"no_log"`     // nowhere in At's log, any run (checked last)
	Cards     map[string]CardExpect     `toml:"cards"`      // card name → its state
	Journal   []JournalExpect           `toml:"journal"`    // records in At's journal
	Ledger    map[string]any            `toml:"ledger"`     // paths into `ledgerd report --json`
	Accounts  map[string]map[string]any `toml:"accounts"`   // account id or card → paths into `ledgerd account show --json`
	Devices   map[string]any            `toml:"devices"`    // paths into `ledgerd device list --json`
	Health    map[string]any            `toml:"health"`     // paths into At's GET /v1/health
	Relays    map[string]int            `toml:"relays"`     // relay → pulses since At started
	Exit      *int                      `toml:"exit"`       // the ledgerd command's exit code, or At's
	Output    Texts                     `toml:"output"`     // in the ledgerd command's output
	Running   *bool                     `toml:"running"`    // At's process runs (or has ended)
	Status    *int                      `toml:"status"`     // the control request's HTTP status
	Response  map[string]any            `toml:"response"`   // paths into the control request's answer
	Kiosk     *KioskExpect              `toml:"kiosk"`      // the kiosk step's answer
}

// TapExpect is the next tap record of a device (GET /v1/taps).
type TapExpect struct {
	Flow      string `toml:"flow"`    // pos, gate, kiosk, ...: the flow that handled the card
	Outcome   string `toml:"outcome"` // paid, refused, tap-again, session-started, passed, denied, not-taken, loaded, nothing
	Code      string `toml:"code"`    // the stable reason (ok, lost, min_balance, ...)
	Card      string `toml:"card"`    // card name
	Amount    *int64 `toml:"amount"`
	Balance   *int64 `toml:"balance"`
	Recovered *bool  `toml:"recovered"`
}

// CardExpect is a card's state (its state file).
type CardExpect struct {
	Balance        *int64 `toml:"balance"`
	OfflineCounter *int   `toml:"offline_counter"`
	OnlineCounter  *int   `toml:"online_counter"`
	PINTries       *int   `toml:"pin_tries"`
}

// JournalExpect matches journal records; Count (exact) or Min (default 1)
// says how many must match.
type JournalExpect struct {
	Kind    string  `toml:"kind"`
	Card    string  `toml:"card"` // card name
	Reason  string  `toml:"reason"`
	Amount  *int64  `toml:"amount"`
	Version *uint64 `toml:"version"`
	Count   *int    `toml:"count"`
	Min     *int    `toml:"min"`
}

// Duration is a Go duration string in a scenario ("5s").
type Duration time.Duration

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: negative", b)
	}
	*d = Duration(v)
	return nil
}

// D returns it as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Texts is one text or a list of them; each must be found.
type Texts []string

// UnmarshalTOML takes a string or an array of strings.
func (t *Texts) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*t = Texts{x}
		return nil
	case []any:
		out := make(Texts, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a string or a list of strings, got %T in the list", e)
			}
			out = append(out, s)
		}
		*t = out
		return nil
	}
	return fmt.Errorf("want a string or a list of strings, got %T", v)
}

// CardClass is a card class: a name or a number.
type CardClass struct {
	Set   bool
	Value byte
}

// Card classes by name (reader/sim's demo classes).
var cardClasses = map[string]byte{"student": 1, "staff": 2, "temporary": 3}

// UnmarshalTOML takes student, staff, temporary or a number 0-255.
func (c *CardClass) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		n, ok := cardClasses[x]
		if !ok {
			return fmt.Errorf("class %q: want student, staff, temporary or a number", x)
		}
		*c = CardClass{true, n}
		return nil
	case int64:
		if x < 0 || x > 255 {
			return fmt.Errorf("class %d: want 0 to 255", x)
		}
		*c = CardClass{true, byte(x)}
		return nil
	}
	return fmt.Errorf("class: want a name or a number, got %T", v)
}

// action returns the name of the step's action ("" for none) and how many
// it has.
func (s *Step) actions() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(s.Tap != "", "tap")
	add(s.Remove != "", "remove")
	add(s.Fault != nil, "fault")
	add(s.ClearFaults != "", "clear_faults")
	add(s.Keys != nil, "keys")
	add(s.Input != "", "input")
	add(s.Kill != "", "kill")
	add(s.Stop != "", "stop")
	add(s.StartProc != "", "start")
	add(s.Restart != "", "restart")
	add(s.Cut != "", "cut")
	add(s.Heal != "", "heal")
	add(s.Clock != "", "clock")
	add(s.Ledgerd != "", "ledgerd")
	add(s.Pause != 0, "pause")
	add(s.Control != "", "control")
	add(s.Kiosk != nil, "kiosk")
	return out
}

// Action names the step's action ("" for an expectation-only step).
func (s *Step) Action() string {
	if a := s.actions(); len(a) > 0 {
		return a[0]
	}
	return ""
}

// hasExpect reports whether the step expects anything.
func (e *Expect) any() bool {
	return e.Tap != nil || len(e.Display) > 0 || len(e.NoDisplay) > 0 || len(e.Log) > 0 || len(e.Cards) > 0 ||
		len(e.Journal) > 0 || len(e.Ledger) > 0 || len(e.Accounts) > 0 || len(e.Devices) > 0 || len(e.Health) > 0 || len(e.Relays) > 0 ||
		e.Exit != nil || len(e.Output) > 0 || e.Running != nil || e.Status != nil || len(e.Response) > 0 ||
		len(e.NoLog) > 0 || e.Kiosk != nil
}

// needsDevice reports whether an expectation reads the device At.
func (e *Expect) needsDevice() bool {
	return e.Tap != nil || len(e.Display) > 0 || len(e.NoDisplay) > 0 || len(e.Log) > 0 || len(e.Journal) > 0 ||
		len(e.Health) > 0 || len(e.Relays) > 0 || e.Running != nil || len(e.NoLog) > 0
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)

// describe renders a step for the timeline: its action and arguments.
func (s *Step) describe() string {
	var b strings.Builder
	switch s.Action() {
	case "tap":
		fmt.Fprintf(&b, "tap %s at %s", s.Tap, s.At)
	case "remove":
		fmt.Fprintf(&b, "remove the card at %s", s.Remove)
	case "fault":
		fmt.Fprintf(&b, "arm %s on %s's %s #%d at %s", s.Fault.Kind, s.Fault.Card, orDefault(s.Fault.INS, "any"), max(s.Fault.Nth, 1), s.At)
	case "clear_faults":
		fmt.Fprintf(&b, "clear %s's faults at %s", s.ClearFaults, s.At)
	case "keys":
		fmt.Fprintf(&b, "keys %q at %s", *s.Keys, s.At)
	case "input":
		fmt.Fprintf(&b, "input %s %s at %s", s.Input, map[bool]string{true: "active", false: "inactive"}[s.Active == nil || *s.Active], s.At)
	case "kill":
		fmt.Fprintf(&b, "SIGKILL %s", s.Kill)
	case "stop":
		fmt.Fprintf(&b, "SIGTERM %s", s.Stop)
	case "start":
		fmt.Fprintf(&b, "start %s", s.StartProc)
	case "restart":
		fmt.Fprintf(&b, "restart %s", s.Restart)
	case "cut":
		fmt.Fprintf(&b, "cut %s's network (%s)", s.Cut, orDefault(s.CutMode, "drop"))
	case "heal":
		fmt.Fprintf(&b, "heal %s's network", s.Heal)
	case "clock":
		fmt.Fprintf(&b, "step %s's clock %s", s.At, s.Clock)
	case "ledgerd":
		fmt.Fprintf(&b, "ledgerd %s %s", s.Ledgerd, strings.Join(s.Args, " "))
	case "pause":
		fmt.Fprintf(&b, "pause %v", s.Pause.D())
	case "control":
		fmt.Fprintf(&b, "%s at %s", s.Control, s.At)
	case "kiosk":
		fmt.Fprintf(&b, "kiosk %s at %s", s.Kiosk.what(), s.At)
	default:
		b.WriteString("expect")
		if s.At != "" {
			b.WriteString(" at " + s.At)
		}
	}
	if s.Note != "" {
		fmt.Fprintf(&b, " (%s)", s.Note)
	}
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
