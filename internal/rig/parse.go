package rig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/openykt/yktd/offline"
)

// Load reads and parses the scenario file at path.
func Load(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxScenarioSize+1))
	if err != nil {
		return nil, fmt.Errorf("rig: read %s: %w", path, err)
	}
	sc, err := Parse(strings.TrimSuffix(filepath.Base(path), ".toml"), b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc.File = path
	return sc, nil
}

// Parse decodes and checks a scenario. name is its default Name. Unknown
// keys are refused with the line they are on; so are contradictions (two
// actions in a step, a card or device nobody declared, an expectation that
// needs a device without "at").
func Parse(name string, data []byte) (*Scenario, error) {
	if len(data) > MaxScenarioSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrScenario, MaxScenarioSize)
	}
	var sc Scenario
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&sc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: line %d: %s", ErrScenario, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var msgs []string
		for _, k := range und {
			if freeForm(k) {
				continue
			}
			if line := keyLine(data, k); line > 0 {
				msgs = append(msgs, fmt.Sprintf("line %d: unknown key %s", line, k))
			} else {
				msgs = append(msgs, "unknown key "+k.String())
			}
		}
		if len(msgs) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrScenario, strings.Join(msgs, "; "))
		}
	}
	if sc.Name == "" {
		sc.Name = name
	}
	stepLines(data, sc.Steps)
	if err := sc.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	return &sc, nil
}

// freeFormTables are the tables whose keys are not the scenario's own: a
// device's configuration overlay (checked by config.Parse when the device
// is prepared), the ledger's rules (checked by ledgerd rules set) and the
// JSON paths of expectations. The TOML decoder reports keys nested in them
// as undecoded; they are not unknown.
var freeFormTables = [][]string{{"device", "config"}, {"ledger", "rules"},
	{"step", "body"}, {"step", "expect", "response"},
	{"step", "expect", "ledger"}, {"step", "expect", "accounts"}, {"step", "expect", "devices"}, {"step", "expect", "health"}}

func freeForm(k toml.Key) bool {
	for _, p := range freeFormTables {
		if len(k) > len(p) && slices.Equal(k[:len(p)], toml.Key(p)) {
			return true
		}
	}
	return false
}

// check validates the decoded scenario and fills in defaults.
func (sc *Scenario) check() error {
	if sc.Timeout == 0 {
		sc.Timeout = Duration(3 * time.Minute)
	}
	if sc.Within == 0 {
		sc.Within = Duration(10 * time.Second)
	}
	if sc.Pending != nil && sc.Pending.Issue <= 0 {
		return errors.New("pending: issue: want the number of the issue it waits for")
	}
	devs := map[string]*DeviceSpec{}
	for i := range sc.Devices {
		d := &sc.Devices[i]
		if err := d.check(sc.Ledger != nil); err != nil {
			return fmt.Errorf("device[%d] %s: %w", i, d.Name, err)
		}
		if d.Name == "ledger" || devs[d.Name] != nil {
			return fmt.Errorf("device[%d]: name %q used twice or reserved", i, d.Name)
		}
		devs[d.Name] = d
	}
	for i := range sc.Devices {
		if tok, ok := strings.CutPrefix(sc.Devices[i].Enrol, "{token."); ok {
			if other := strings.TrimSuffix(tok, "}"); devs[other] == nil || other == sc.Devices[i].Name {
				return fmt.Errorf("device %s: enrol %q: no other device %q", sc.Devices[i].Name, sc.Devices[i].Enrol, other)
			}
		}
	}
	ids := map[string]bool{}
	for _, d := range sc.Devices {
		if ids[d.ID] {
			return fmt.Errorf("device %s: id %q used twice", d.Name, d.ID)
		}
		ids[d.ID] = true
	}
	cards := map[string]bool{}
	nos := map[string]bool{}
	for i := range sc.Cards {
		c := &sc.Cards[i]
		if err := c.check(i, sc.Ledger != nil); err != nil {
			return fmt.Errorf("card[%d] %s: %w", i, c.Name, err)
		}
		if cards[c.Name] || nos[c.No] {
			return fmt.Errorf("card[%d]: name %q or number %s used twice", i, c.Name, c.No)
		}
		cards[c.Name], nos[c.No] = true, true
	}
	for i := range sc.Steps {
		s := &sc.Steps[i]
		if err := s.check(sc, devs, cards); err != nil {
			where := fmt.Sprintf("step %d", i+1)
			if s.Line > 0 {
				where += fmt.Sprintf(" (line %d)", s.Line)
			}
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

func (d *DeviceSpec) check(hasLedger bool) error {
	if !nameRE.MatchString(d.Name) {
		return fmt.Errorf("name %q: want a letter, then letters, digits, - or _ (at most 32)", d.Name)
	}
	if d.ID == "" {
		d.ID = "RIG-" + strings.ToUpper(d.Name)
	}
	if !nameRE.MatchString(d.ID) {
		return fmt.Errorf("id %q: want a letter, then letters, digits, - or _ (at most 32)", d.ID)
	}
	switch d.Kind {
	case "":
		d.Kind = KindPOS
	case KindPOS, KindGate, KindKiosk:
	default:
		return fmt.Errorf("kind %q: want pos, gate or kiosk", d.Kind)
	}
	switch d.Reader {
	case "":
		d.Reader = ReaderSim
	case ReaderSim, ReaderVCard:
	default:
		return fmt.Errorf("reader %q: want sim or vcard", d.Reader)
	}
	if d.Ledger == nil {
		d.Ledger = &hasLedger
	}
	if *d.Ledger && !hasLedger {
		return errors.New("ledger = true, but the scenario declares no [ledger]")
	}
	switch {
	case d.Enrol == "" && *d.Ledger:
		d.Enrol = EnrolToken
	case d.Enrol == "":
		d.Enrol = EnrolNone
	case d.Enrol != EnrolNone && !*d.Ledger:
		return fmt.Errorf("enrol %q without a ledger", d.Enrol)
	case strings.ContainsAny(d.Enrol, " \t\n"):
		return fmt.Errorf("enrol %q: a token has no spaces", d.Enrol)
	}
	for k := range d.Config {
		switch k {
		case "device", "reader", "board", "pos", "gate", "kiosk", "sync", "control":
		default:
			return fmt.Errorf("config: unknown section %q (docs/config.md)", k)
		}
	}
	return nil
}

// statusReasons are what a card may be listed for.
var statusReasons = []string{"lost", "frozen", "dormant", "cancelled", "expired"}

func (c *CardSpec) check(i int, hasLedger bool) error {
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("name %q: want a letter, then letters, digits, - or _ (at most 32)", c.Name)
	}
	if c.No == "" {
		c.No = fmt.Sprintf("100120261207%08d", 1000+i)
	}
	if len(c.No) > 20 || !allDigits(c.No) {
		return fmt.Errorf("no %q: want 1 to 20 digits", c.No)
	}
	if c.Balance == nil {
		c.Balance = new(int64(10000))
	}
	if *c.Balance < 0 || *c.Balance > 0xFFFFFFFF {
		return fmt.Errorf("balance %d: want 0 to %d fen", *c.Balance, uint32(0xFFFFFFFF))
	}
	if !c.Class.Set {
		c.Class = CardClass{true, 1}
	}
	if c.PIN == "" {
		c.PIN = "123456"
	}
	if len(c.PIN) < 2 || len(c.PIN) > 12 || !allDigits(c.PIN) {
		return errors.New("pin: want 2 to 12 digits")
	}
	if c.Start == "" {
		c.Start = "today-90d"
	}
	if c.Expiry == "" {
		c.Expiry = "today+1095d"
	}
	for _, d := range []string{c.Start, c.Expiry} {
		if _, err := resolveDate(d, time.Now()); err != nil {
			return err
		}
	}
	if c.Listed != "" {
		if !hasLedger {
			return fmt.Errorf("listed %q: the status list is the ledger's; declare [ledger]", c.Listed)
		}
		if _, err := offline.ParseReason(c.Listed); err != nil {
			return fmt.Errorf("listed %q: want one of %s", c.Listed, strings.Join(statusReasons, ", "))
		}
	}
	if c.Status < 0 || c.Status > 255 || c.OfflineCounter < 0 || c.OfflineCounter > 0xFFFF ||
		c.OnlineCounter < 0 || c.OnlineCounter > 0xFFFF || c.Overdraft < 0 || c.Overdraft > 0xFFFFFF {
		return errors.New("status 0-255, counters 0-65535, overdraft 0-16777215")
	}
	if c.PINTries != nil && (*c.PINTries < 0 || *c.PINTries > 3) {
		return fmt.Errorf("pin_tries %d: want 0 to 3", *c.PINTries)
	}
	switch {
	case c.NationalID != "" && c.Account == "":
		return errors.New("national_id: the ID number is the account's: give account too")
	case c.Account == "":
		return nil
	case !hasLedger:
		return fmt.Errorf("account %q: accounts are the ledger's; declare [ledger]", c.Account)
	case !accountRE.MatchString(c.Account):
		return fmt.Errorf("account %q: want 1 to 32 letters, digits, '.', '_', ':' or '-' (a student or staff number)", c.Account)
	case len(c.PIN) < 4:
		return errors.New("pin: an account's PIN is 4 to 12 digits")
	case c.NationalID != "" && !nationalIDRE.MatchString(c.NationalID):
		// The value is not quoted: it is a holder's ID number.
		return errors.New("national_id: want 18 characters, 17 digits and a digit or X")
	}
	return nil
}

var (
	accountRE    = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,32}$`)
	nationalIDRE = regexp.MustCompile(`^[0-9]{17}[0-9Xx]$`)
)

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var dateRE = regexp.MustCompile(`^today(?:([+-])(\d{1,5})d)?$`)

// campusZone is the zone validity dates are counted in (the demo
// configurations' device.timezone).
var campusZone = time.FixedZone("CST", 8*3600)

// resolveDate turns a card date (YYYYMMDD, today, today+Nd, today-Nd)
// into YYYYMMDD, counting days from now in Asia/Shanghai.
func resolveDate(s string, now time.Time) (string, error) {
	if m := dateRE.FindStringSubmatch(s); m != nil {
		days := 0
		if m[2] != "" {
			days, _ = strconv.Atoi(m[2])
			if m[1] == "-" {
				days = -days
			}
		}
		return now.In(campusZone).AddDate(0, 0, days).Format("20060102"), nil
	}
	if len(s) == 8 {
		if _, err := time.Parse("20060102", s); err == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("date %q: want YYYYMMDD, today, today+Nd or today-Nd", s)
}

// procName: a step's process argument names a device or the ledger.
func procName(v string, devs map[string]*DeviceSpec, sc *Scenario) error {
	if v == "ledger" {
		if sc.Ledger == nil {
			return errors.New(`"ledger": the scenario declares no [ledger]`)
		}
		return nil
	}
	if devs[v] == nil {
		return fmt.Errorf("no device %q", v)
	}
	return nil
}

func (s *Step) check(sc *Scenario, devs map[string]*DeviceSpec, cards map[string]bool) error {
	acts := s.actions()
	if len(acts) > 1 {
		return fmt.Errorf("one action per step, got %s", strings.Join(acts, " and "))
	}
	if s.Todo != "" {
		if s.Pending == nil {
			return errors.New("todo: say which issue it waits for (pending = { issue = N })")
		}
		if len(acts) > 0 || s.Expect.any() {
			return errors.New("todo describes a step that cannot be written yet: no action or expectation beside it")
		}
	}
	if s.Pending != nil && s.Pending.Issue <= 0 {
		return errors.New("pending: issue: want the number of the issue it waits for")
	}
	if len(acts) == 0 && !s.Expect.any() && s.Todo == "" {
		return errors.New("neither an action nor an expectation")
	}
	act := ""
	if len(acts) == 1 {
		act = acts[0]
	}
	// An action on a device is "at" it for the expectations that follow.
	if target := s.Remove + s.Cut + s.Heal + s.Kill + s.Stop + s.StartProc + s.Restart; s.At == "" && devs[target] != nil {
		s.At = target
	}
	card := func(what, n string) error {
		if !cards[n] {
			return fmt.Errorf("%s: no card %q", what, n)
		}
		return nil
	}
	needAt := s.Expect.needsDevice()
	switch act {
	case "tap", "fault", "clear_faults", "keys", "input", "clock", "control", "kiosk":
		needAt = true
	}
	ledgerClock := act == "clock" && s.At == "ledger"
	switch {
	case ledgerClock && sc.Ledger == nil:
		return errors.New(`clock at "ledger": the scenario declares no [ledger]`)
	case ledgerClock && s.Expect.needsDevice():
		return errors.New(`clock at "ledger": an expectation on a device needs a step of its own`)
	case ledgerClock:
	case s.At != "" && devs[s.At] == nil:
		return fmt.Errorf("at: no device %q", s.At)
	case needAt && s.At == "":
		return fmt.Errorf("%s needs at = DEVICE", orDefault(act, "this expectation"))
	case len(s.Expect.Relays) > 0 && devs[s.At].Reader != ReaderSim:
		return errors.New("expect.relays: only a simulator's board can be read")
	}
	if s.Reader != "" && act != "tap" && act != "remove" {
		return errors.New("reader goes with tap or remove")
	}
	if s.Active != nil && act != "input" {
		return errors.New("active goes with input")
	}
	if s.CutMode != "" && act != "cut" {
		return errors.New("mode goes with cut")
	}
	if len(s.Args) > 0 && act != "ledgerd" {
		return errors.New("args go with ledgerd")
	}
	if s.Body != nil && act != "control" {
		return errors.New("body goes with control")
	}
	if (s.Expect.Status != nil || len(s.Expect.Response) > 0) && act != "control" && act != "kiosk" {
		return errors.New("expect.status and expect.response go with a control or kiosk step")
	}
	if s.Expect.Kiosk != nil && act != "kiosk" {
		return errors.New("expect.kiosk goes with a kiosk step")
	}
	switch act {
	case "tap":
		if err := card("tap", s.Tap); err != nil {
			return err
		}
	case "remove":
		if devs[s.Remove] == nil {
			return fmt.Errorf("remove: no device %q", s.Remove)
		}
	case "fault":
		if err := card("fault.card", s.Fault.Card); err != nil {
			return err
		}
		switch s.Fault.Kind {
		case "tear-before", "tear-after", "garble", "truncate", "wrong-mac2", "latency":
		default:
			return fmt.Errorf("fault.kind %q: want tear-before, tear-after, garble, truncate, wrong-mac2 or latency", s.Fault.Kind)
		}
		if s.Fault.Nth < 0 || s.Fault.Keep < 0 {
			return errors.New("fault: nth and keep are not negative")
		}
	case "clear_faults":
		if err := card("clear_faults", s.ClearFaults); err != nil {
			return err
		}
	case "kill", "stop", "start", "restart":
		v := map[string]string{"kill": s.Kill, "stop": s.Stop, "start": s.StartProc, "restart": s.Restart}[act]
		if err := procName(v, devs, sc); err != nil {
			return fmt.Errorf("%s: %w", act, err)
		}
	case "cut", "heal":
		v := s.Cut + s.Heal
		d := devs[v]
		if d == nil || !*d.Ledger {
			return fmt.Errorf("%s: no device %q with a ledger", act, v)
		}
		if s.CutMode != "" && s.CutMode != "drop" && s.CutMode != "reset" {
			return fmt.Errorf("mode %q: want drop or reset", s.CutMode)
		}
	case "clock":
		if _, err := parseStep(s.Clock); err != nil {
			return err
		}
		if !ledgerClock && devs[s.At].Reader != ReaderSim {
			return errors.New("clock: only a simulator's clock (or the ledger's) can be stepped")
		}
	case "control":
		if _, _, err := parseControl(s.Control); err != nil {
			return err
		}
	case "kiosk":
		if d := devs[s.At]; d.Kind != KindKiosk {
			return fmt.Errorf("kiosk: %s is a %s, not a kiosk", s.At, d.Kind)
		}
		if err := s.Kiosk.check(); err != nil {
			return err
		}
	case "ledgerd":
		if sc.Ledger == nil {
			return errors.New("ledgerd: the scenario declares no [ledger]")
		}
		for _, w := range strings.Fields(s.Ledgerd) {
			if strings.HasPrefix(w, "-") {
				return fmt.Errorf("ledgerd %q: the command's words only; flags and arguments go in args", s.Ledgerd)
			}
		}
		if f := strings.Fields(s.Ledgerd); len(f) > 0 && (f[0] == "serve" || f[0] == "init") {
			return errors.New("ledgerd serve and init are the runner's (see start, stop and restart)")
		}
		for _, a := range s.Args {
			if a == "--data" || strings.HasPrefix(a, "--data=") {
				return errors.New("ledgerd: the runner adds --data")
			}
		}
	}
	return s.Expect.check(sc, act, card)
}

// check refuses a kiosk step that names no trade or mixes the two kinds.
// Its errors never quote the PIN or the ID number.
func (k *KioskSpec) check() error {
	switch {
	case k.Trade == "" && k.ReportLoss == "":
		return fmt.Errorf("kiosk: want trade = %s, or report_loss = \"ACCOUNT\"", strings.Join(kioskTrades, " | "))
	case k.Trade != "" && k.ReportLoss != "":
		return errors.New("kiosk: trade or report_loss, not both")
	case k.Trade != "" && !slices.Contains(kioskTrades, k.Trade):
		return fmt.Errorf("kiosk.trade %q: want one of %s (docs/control.md)", k.Trade, strings.Join(kioskTrades, ", "))
	case k.PIN == "":
		return errors.New("kiosk: pin: every trade takes the holder's PIN")
	case k.ReportLoss != "" && (k.Session != "" || k.NewPIN != "" || k.NationalID != "" || k.TxLimit != nil ||
		k.OrderID != "" || k.Service != "" || k.Reference != "" || k.Amount != 0 || k.Count != 0):
		return errors.New("kiosk: report_loss takes the account and the pin only (no card, no session)")
	case k.Trade == "unfreeze" && k.NationalID == "":
		return errors.New("kiosk: unfreeze: national_id: 解挂 takes the holder's ID number")
	case k.Trade == "set-limit" && k.TxLimit == nil:
		return errors.New("kiosk: set-limit: tx_limit: the new per-transaction limit in fen")
	case k.TxLimit != nil && *k.TxLimit < 0, k.Amount < 0, k.Count < 0:
		return errors.New("kiosk: tx_limit, amount and count are not negative")
	}
	return nil
}

// parseStep reads a clock step: "+48h", "-30m", "48h".
func parseStep(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil || d == 0 {
		return 0, fmt.Errorf("clock %q: want a signed Go duration (+48h, -30m)", s)
	}
	return d, nil
}

func (e *Expect) check(sc *Scenario, act string, card func(what, n string) error) error {
	if e.Tap != nil && e.Tap.Card != "" {
		if err := card("expect.tap.card", e.Tap.Card); err != nil {
			return err
		}
	}
	for n := range e.Cards {
		if err := card("expect.cards", n); err != nil {
			return err
		}
	}
	for i, j := range e.Journal {
		if j.Card != "" {
			if err := card(fmt.Sprintf("expect.journal[%d].card", i), j.Card); err != nil {
				return err
			}
		}
		if j.Count != nil && j.Min != nil {
			return fmt.Errorf("expect.journal[%d]: count or min, not both", i)
		}
		if j.Kind == "" && j.Card == "" && j.Reason == "" {
			return fmt.Errorf("expect.journal[%d]: say what to match (kind, card, reason)", i)
		}
	}
	if (len(e.Ledger) > 0 || len(e.Accounts) > 0 || len(e.Devices) > 0) && sc.Ledger == nil {
		return errors.New("expect.ledger, expect.accounts and expect.devices need [ledger]")
	}
	docs := []map[string]any{e.Ledger, e.Devices, e.Health, e.Response}
	for id, m := range e.Accounts {
		if id == "" || len(m) == 0 {
			return fmt.Errorf("expect.accounts: want an account id or card and its paths: accounts.ID = { \"account.state\" = \"normal\" }, got %q", id)
		}
		docs = append(docs, m)
	}
	for _, m := range docs {
		for path, want := range m {
			if _, err := parsePath(path); err != nil {
				return err
			}
			if err := checkWant(want); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if len(e.Output) > 0 && act != "ledgerd" {
		return errors.New("expect.output goes with a ledgerd step")
	}
	if k := e.Kiosk; k != nil {
		if k.Card != "" {
			if err := card("expect.kiosk.card", k.Card); err != nil {
				return err
			}
		}
		for i, w := range k.Writes {
			if !slices.Contains(writeOutcomes, w) {
				return fmt.Errorf("expect.kiosk.writes[%d] %q: want %s", i, w, strings.Join(writeOutcomes, ", "))
			}
		}
	}
	return nil
}

// writeOutcomes are what a card write may end as (protocol.WriteOutcome).
var writeOutcomes = []string{"written", "failed", "torn-unknown"}

// stepLines sets each step's Line: the line of its [[step]] header.
func stepLines(data []byte, steps []Step) {
	n := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimSpace(line); bytes.HasPrefix(t, []byte("[[")) {
			name := strings.TrimSpace(strings.Trim(string(t[:bytes.IndexByte(append(t, ']'), ']')]), "[ "))
			if name == "step" && n < len(steps) {
				steps[n].Line = i + 1
				n++
			}
		}
	}
}
