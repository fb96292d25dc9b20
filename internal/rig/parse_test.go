package rig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest runnable scenario, for the cases to extend.
const minimal = `
[ledger]

[[device]]
name = "pos"

[[card]]
name = "alice"

[[step]]
tap = "alice"
at = "pos"
expect.tap = { outcome = "paid" }
`

// TestRigParseDefaults: what a scenario leaves out is filled in.
func TestRigParseDefaults(t *testing.T) {
	sc, err := Parse("min", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	d, c, s := sc.Devices[0], sc.Cards[0], sc.Steps[0]
	switch {
	case sc.Name != "min" || sc.Timeout.D() != 3*time.Minute || sc.Within.D() != 10*time.Second:
		t.Errorf("scenario defaults: %+v", sc)
	case d.ID != "RIG-POS" || d.Kind != KindPOS || d.Reader != ReaderSim || d.Enrol != EnrolToken || !*d.Ledger:
		t.Errorf("device defaults: %+v", d)
	case c.No != "10012026120700001000" || *c.Balance != 10000 || c.PIN != "123456" || c.Class.Value != 1 ||
		c.Start != "today-90d" || c.Expiry != "today+1095d":
		t.Errorf("card defaults: %+v", c)
	case s.Line != 10 || s.Action() != "tap" || s.Expect.Tap.Outcome != "paid":
		t.Errorf("step: %+v", s)
	}
}

// TestRigParseRefuses: a scenario that cannot run as written is refused
// before anything starts, with the line of an unknown key and what is
// wrong.
func TestRigParseRefuses(t *testing.T) {
	kioskMin := strings.Replace(minimal, "[[card]]", "[[device]]\nname = \"kiosk\"\nkind = \"kiosk\"\n\n[[card]]", 1)
	for _, tc := range []struct {
		name, text, want string
	}{
		{"toml", "name = ", "line 1"},
		{"unknown top key", "nmae = \"x\"\n" + minimal, "line 1: unknown key nmae"},
		{"unknown table", minimal + "\n[ledgr]\nx = 1\n", "line 15: unknown key ledgr"},
		{"unknown step key", minimal + "\n[[step]]\ntapp = \"alice\"\nat = \"pos\"\n", "line 16: unknown key step.tapp"},
		{"unknown expectation", minimal + "\n[[step]]\nat = \"pos\"\nexpect.dispaly = \"x\"\n", "line 17: unknown key step.expect.dispaly"},
		{"unknown inline key", minimal + "\n[[step]]\nat = \"pos\"\nexpect.tap = { outcome = \"paid\", cod = \"ok\" }\n", "line 17: unknown key step.expect.tap.cod"},
		{"unknown key in a list", minimal + "\n[[step]]\nat = \"pos\"\nexpect.journal = [\n  { kind = \"x\", crad = \"alice\" },\n]\n", "line 18: unknown key step.expect.journal.crad"},
		{"unknown card key", minimal + "\n[[card]]\nname = \"bob\"\nbalence = 1\n", "line 17: unknown key card.balence"},
		{"two actions", minimal + "\n[[step]]\ntap = \"alice\"\nat = \"pos\"\nkill = \"pos\"\n", "step 2 (line 15): one action per step, got tap and kill"},
		{"no action nor expectation", minimal + "\n[[step]]\nnote = \"x\"\n", "neither an action nor an expectation"},
		{"unknown card", minimal + "\n[[step]]\ntap = \"bob\"\nat = \"pos\"\n", `tap: no card "bob"`},
		{"unknown device", minimal + "\n[[step]]\ntap = \"alice\"\nat = \"gate\"\n", `at: no device "gate"`},
		{"tap without at", minimal + "\n[[step]]\ntap = \"alice\"\n", "tap needs at = DEVICE"},
		{"expectation without at", minimal + "\n[[step]]\nexpect.display = \"x\"\n", "this expectation needs at = DEVICE"},
		{"todo without pending", minimal + "\n[[step]]\ntodo = \"the kiosk\"\n", "todo: say which issue"},
		{"todo with an action", minimal + "\n[[step]]\ntodo = \"x\"\npending = { issue = 14 }\ntap = \"alice\"\nat = \"pos\"\n", "todo describes"},
		{"pending without issue", "pending = { why = \"x\" }\n" + minimal, "pending: issue"},
		{"bad kind", strings.Replace(minimal, `name = "pos"`, "name = \"pos\"\nkind = \"atm\"", 1), `kind "atm"`},
		{"bad device name", strings.Replace(minimal, `name = "pos"`, `name = "p o s"`, 1), `name "p o s"`},
		{"ledger is reserved", strings.Replace(minimal, `name = "pos"`, `name = "ledger"`, 1), "reserved"},
		{"two cards one name", minimal + "\n[[card]]\nname = \"alice\"\n", "used twice"},
		{"bad date", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\nexpiry = \"tomorrow\"", 1), `date "tomorrow"`},
		{"bad class", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\nclass = \"dean\"", 1), `class "dean"`},
		{"listed without ledger", "[[device]]\nname = \"pos\"\n[[card]]\nname = \"a\"\nlisted = \"lost\"\n[[step]]\ntap = \"a\"\nat = \"pos\"\n", "declare [ledger]"},
		{"bad reason", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\nlisted = \"stolen\"", 1), `listed "stolen"`},
		{"bad pin", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\npin = \"12ab\"", 1), "pin: want 2 to 12 digits"},
		{"bad fault", minimal + "\n[[step]]\nat = \"pos\"\nfault = { card = \"alice\", kind = \"explode\" }\n", `fault.kind "explode"`},
		{"bad clock", minimal + "\n[[step]]\nat = \"pos\"\nclock = \"tomorrow\"\n", `clock "tomorrow"`},
		{"ledgerd flags in the words", minimal + "\n[[step]]\nledgerd = \"report --json\"\n", "flags and arguments go in args"},
		{"ledgerd --data", minimal + "\n[[step]]\nledgerd = \"report\"\nargs = [\"--data\", \"/x\"]\n", "the runner adds --data"},
		{"ledgerd serve", minimal + "\n[[step]]\nledgerd = \"serve\"\n", "the runner's"},
		{"output without ledgerd", minimal + "\n[[step]]\nat = \"pos\"\nexpect.output = \"x\"\n", "expect.output goes with a ledgerd step"},
		{"bad path", minimal + "\n[[step]]\nexpect.ledger = { \"devices[id=x\" = 1 }\n", "unbalanced"},
		{"bad comparison", minimal + "\n[[step]]\nexpect.ledger = { \"a\" = \">= many\" }\n", "wants a number"},
		{"count and min", minimal + "\n[[step]]\nat = \"pos\"\nexpect.journal = [{ kind = \"x\", count = 1, min = 1 }]\n", "count or min"},
		{"cut without ledger", "[[device]]\nname = \"pos\"\n[[step]]\ncut = \"pos\"\n", `no device "pos" with a ledger`},
		{"enrol another unknown", strings.Replace(minimal, `name = "pos"`, "name = \"pos\"\nenrol = \"{token.gate}\"", 1), `no other device "gate"`},
		{"config section", strings.Replace(minimal, `name = "pos"`, "name = \"pos\"\nconfig.poss = { mode = \"keyed\" }", 1), `unknown section "poss"`},
		{"reader with keys", minimal + "\n[[step]]\nat = \"pos\"\nkeys = \"1\"\nreader = \"r\"\n", "reader goes with tap or remove"},
		{"ledger clock without ledger", "[[device]]\nname = \"pos\"\n[[step]]\nclock = \"+24h\"\nat = \"ledger\"\n", "declares no [ledger]"},
		{"ledger clock with a device expectation", minimal + "\n[[step]]\nclock = \"+24h\"\nat = \"ledger\"\nexpect.display = \"x\"\n", "a step of its own"},
		{"bad ledger clock", minimal + "\n[[step]]\nclock = \"a day\"\nat = \"ledger\"\n", `clock "a day"`},
		{"tap at the ledger", minimal + "\n[[step]]\ntap = \"alice\"\nat = \"ledger\"\n", `at: no device "ledger"`},
		{"accounts without ledger", "[[device]]\nname = \"pos\"\n[[step]]\nexpect.accounts.a = { \"account.state\" = \"normal\" }\n", "need [ledger]"},
		{"accounts bad path", minimal + "\n[[step]]\nexpect.accounts.a = { \"old_cards[card=x\" = 1 }\n", "unbalanced"},
		{"accounts without paths", minimal + "\n[[step]]\nexpect.accounts.a = {}\n", "want an account id or card and its paths"},
		{"accounts not a table", minimal + "\n[[step]]\nexpect.accounts = { \"account.state\" = \"normal\" }\n", "accounts"},
		{"control without at", minimal + "\n[[step]]\ncontrol = \"POST /v1/cancel-last\"\n", "control needs at = DEVICE"},
		{"control method", minimal + "\n[[step]]\nat = \"pos\"\ncontrol = \"FETCH /v1/taps\"\n", "method FETCH"},
		{"control without a path", minimal + "\n[[step]]\nat = \"pos\"\ncontrol = \"POST\"\n", "want a method and a path"},
		{"body without control", minimal + "\n[[step]]\ntap = \"alice\"\nat = \"pos\"\nbody = { pin = \"1\" }\n", "body goes with control"},
		{"status without control", minimal + "\n[[step]]\nat = \"pos\"\nexpect.status = 200\n", "go with a control or kiosk step"},
		{"bad response path", minimal + "\n[[step]]\nat = \"pos\"\ncontrol = \"GET /v1/kiosk\"\nexpect.response = { \"a[\" = 1 }\n", "unbalanced"},
		{"unknown tap key", minimal + "\n[[step]]\nat = \"pos\"\nexpect.tap = { flwo = \"kiosk\" }\n", "unknown key step.expect.tap.flwo"},
		{"unknown kiosk key", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"unfreeze\", pin = \"123456\", nationalid = \"x\" }\n", "unknown key step.kiosk.nationalid"},
		{"unknown kiosk expectation", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"statement\", pin = \"123456\" }\nexpect.kiosk = { cod = \"statement\" }\n", "unknown key step.expect.kiosk.cod"},
		{"kiosk bad trade", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"unfreez\", pin = \"123456\" }\n", `kiosk.trade "unfreez": want one of change-pin, set-limit, unfreeze`},
		{"kiosk no trade", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { pin = \"123456\" }\n", "kiosk: want trade = "},
		{"kiosk both", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"statement\", report_loss = \"S1\", pin = \"123456\" }\n", "trade or report_loss, not both"},
		{"kiosk without pin", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"statement\" }\n", "every trade takes the holder's PIN"},
		{"kiosk unfreeze without id", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"unfreeze\", pin = \"123456\" }\n", "解挂 takes the holder's ID number"},
		{"kiosk set-limit without limit", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"set-limit\", pin = \"123456\" }\n", "set-limit: tx_limit"},
		{"kiosk report_loss with a session", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { report_loss = \"S1\", pin = \"123456\", session = \"x\" }\n", "report_loss takes the account and the pin only"},
		{"kiosk not a table", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = \"unfreeze\"\n", "kiosk"},
		{"kiosk at a pos", kioskMin + "\n[[step]]\nat = \"pos\"\nkiosk = { trade = \"statement\", pin = \"123456\" }\n", "kiosk: pos is a pos, not a kiosk"},
		{"kiosk without at", kioskMin + "\n[[step]]\nkiosk = { trade = \"statement\", pin = \"123456\" }\n", "kiosk needs at = DEVICE"},
		{"expect.kiosk without kiosk", kioskMin + "\n[[step]]\nat = \"kiosk\"\nexpect.kiosk = { code = \"unfrozen\" }\n", "expect.kiosk goes with a kiosk step"},
		{"expect.kiosk bad write", kioskMin + "\n[[step]]\nat = \"kiosk\"\nkiosk = { trade = \"statement\", pin = \"123456\" }\nexpect.kiosk = { writes = [\"done\"] }\n", `expect.kiosk.writes[0] "done": want written, failed, torn-unknown`},
		{"account without ledger", "[[device]]\nname = \"pos\"\n[[card]]\nname = \"a\"\naccount = \"S1\"\n[[step]]\ntap = \"a\"\nat = \"pos\"\n", `account "S1": accounts are the ledger's`},
		{"bad account", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\naccount = \"S 1\"", 1), `account "S 1": want 1 to 32`},
		{"account with a short pin", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\naccount = \"S1\"\npin = \"12\"", 1), "an account's PIN is 4 to 12 digits"},
		{"national_id without account", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\nnational_id = \"11010820030415002X\"", 1), "national_id: the ID number is the account's"},
		{"bad national_id", strings.Replace(minimal, `name = "alice"`, "name = \"alice\"\naccount = \"S1\"\nnational_id = \"1101082003041500\"", 1), "national_id: want 18 characters"},
		{"no_log without at", minimal + "\n[[step]]\nexpect.no_log = \"x\"\n", "this expectation needs at = DEVICE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x", []byte(tc.text))
			if !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want ErrScenario saying %q", err, tc.want)
			}
			// A refusal never repeats a holder's ID number.
			if err != nil && strings.Contains(err.Error(), "1101082003041500") {
				t.Errorf("the refusal quotes the ID number: %v", err)
			}
		})
	}
}

// TestRigParseKioskAndAccounts: a kiosk device, the ledger's clock and
// expectations on an account parse; the paths of expect.accounts are the
// account's, not unknown keys of the scenario.
func TestRigParseKioskAndAccounts(t *testing.T) {
	sc, err := Parse("k", []byte(minimal+`
[[device]]
name = "kiosk"
kind = "kiosk"
config.kiosk = { max_balance_fen = 50000 }

[[step]]
note = "a day later"
clock = "+24h"
at = "ledger"
expect.accounts."{card.alice}" = { "account.state" = "normal", "old_cards[card={card.alice}].released" = false }

[[step]]
tap = "alice"
at = "kiosk"
expect.tap = { flow = "kiosk", outcome = "loaded", code = "loaded" }
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := sc.Devices[1]; d.Kind != KindKiosk || d.ID != "RIG-KIOSK" {
		t.Errorf("kiosk device: %+v", d)
	}
	s := sc.Steps[1]
	if s.Action() != "clock" || s.At != "ledger" || len(s.Expect.Accounts["{card.alice}"]) != 2 {
		t.Errorf("ledger clock step: %+v", s)
	}
	if tap := sc.Steps[2].Expect.Tap; tap.Flow != "kiosk" || tap.Outcome != "loaded" {
		t.Errorf("kiosk tap: %+v", tap)
	}
}

// TestRigParseKioskSteps: a card with an account (PIN and ID number), a
// kiosk step of each kind and the expectation on its answer parse into
// what the runner sends; the timeline's description names the trade and
// never the PIN or the ID number.
func TestRigParseKioskSteps(t *testing.T) {
	sc, err := Parse("k", []byte(minimal+`
[[device]]
name = "kiosk"
kind = "kiosk"
config.kiosk = { auto_claim = false }

[[card]]
name = "dave"
pin = "739164"
listed = "lost"
account = "S2026041"
national_id = "11010820030415002X"

[[step]]
tap = "dave"
at = "kiosk"

[[step]]
kiosk = { trade = "unfreeze", pin = "739164", national_id = "11010820030415002X" }
at = "kiosk"
expect.kiosk = { code = "unfrozen", outcome = "nothing", card = "dave", writes = ["written"], tries_left = 0 }
expect.no_log = ["11010820030415002X"]

[[step]]
kiosk = { trade = "set-limit", tx_limit = 0, pin = "739164" }
at = "kiosk"
expect.status = 200
expect.response = { "writes[0].field" = "tx_limit" }

[[step]]
kiosk = { report_loss = "{card.alice}", pin = "123456" }
at = "kiosk"
expect.kiosk = { code = "loss_reported" }
`))
	if err != nil {
		t.Fatal(err)
	}
	if c := sc.Cards[1]; c.Account != "S2026041" || c.NationalID != "11010820030415002X" || c.PIN != "739164" || c.Listed != "lost" {
		t.Errorf("card with an account: %+v", c)
	}
	if c := sc.Cards[0]; c.Account != "" || c.NationalID != "" {
		t.Errorf("a card without an account: %+v", c)
	}
	un, lim, loss := sc.Steps[2], sc.Steps[3], sc.Steps[4]
	if un.Action() != "kiosk" || un.Kiosk.Trade != "unfreeze" || un.Kiosk.NationalID != "11010820030415002X" ||
		un.Expect.Kiosk.Code != "unfrozen" || len(un.Expect.Kiosk.Writes) != 1 || *un.Expect.Kiosk.TriesLeft != 0 || len(un.Expect.NoLog) != 1 {
		t.Errorf("unfreeze step: %+v %+v", un.Kiosk, un.Expect.Kiosk)
	}
	if lim.Kiosk.TxLimit == nil || *lim.Kiosk.TxLimit != 0 || *lim.Expect.Status != 200 {
		t.Errorf("set-limit step (a limit of 0 is a limit): %+v", lim.Kiosk)
	}
	if loss.Kiosk.ReportLoss != "{card.alice}" || loss.Kiosk.Trade != "" {
		t.Errorf("report-loss step: %+v", loss.Kiosk)
	}
	for _, s := range []Step{un, lim, loss} {
		if d := s.describe(); strings.Contains(d, "739164") || strings.Contains(d, "123456") || strings.Contains(d, "11010820030415002X") {
			t.Errorf("the timeline's description shows a secret: %s", d)
		}
	}
	if d := un.describe(); d != "kiosk unfreeze at kiosk" {
		t.Errorf("describe: %q", d)
	}
	if d := loss.describe(); d != "kiosk report-loss of {card.alice} at kiosk" {
		t.Errorf("describe: %q", d)
	}
}

// TestRigParseDates: card dates relative to today, in the campus's zone.
func TestRigParseDates(t *testing.T) {
	now := time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC) // 01:00 on 1 January in Shanghai
	for in, want := range map[string]string{"today": "20270101", "today+1d": "20270102", "today-1d": "20261231",
		"today+365d": "20280101", "20300831": "20300831"} {
		if got, err := resolveDate(in, now); err != nil || got != want {
			t.Errorf("%s: %s, %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "today+1", "today+1w", "2026-12-07", "20261332", "today+999999d"} {
		if got, err := resolveDate(bad, now); err == nil {
			t.Errorf("%q: %s, want an error", bad, got)
		}
	}
}

// TestRigScenariosParse: every scenario of the acceptance suite and of
// the runner's own tests parses, names its rule and, when pending, its
// issue.
func TestRigScenariosParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "scenarios", "*.toml"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "scenarios", "*", "*.toml"))
	rig, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rig", "*.toml"))
	files = append(append(files, more...), rig...)
	if len(files) < 4 {
		t.Fatalf("only %d scenario files", len(files))
	}
	for _, f := range files {
		sc, err := Load(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if sc.Rule == "" {
			t.Errorf("%s: no rule", f)
		}
	}
}

// TestRigKeyLine: the line of a key, as the decoder names it.
func TestRigKeyLine(t *testing.T) {
	src := []byte(`a = 1 # comment with b = 2
[t]
b = "x = y" # b =
c.d = 3
e = { f = 1, g = { h = "}" }, i = [1, 2] }

[[s]]
j = 1
[[s]]
k = { l = 1 }
"quoted key" = 2
`)
	for key, want := range map[string]int{"a": 1, "t": 2, "t.b": 3, "t.c.d": 4, "t.e.f": 5, "t.e.g.h": 5, "t.e.i": 5,
		"s": 7, "s.j": 8, "s.k.l": 10, "s.quoted key": 11, "nowhere.z": 0} {
		if got := keyLine(src, strings.Split(key, ".")); got != want {
			t.Errorf("keyLine(%s) = %d, want %d", key, got, want)
		}
	}
}

// FuzzRigParse: a scenario file is outside input (an engineer's editor,
// a merge gone wrong): Parse never panics, and what it accepts is whole
// (every step's references resolve).
func FuzzRigParse(f *testing.F) {
	for _, dir := range []string{filepath.Join("..", "..", "testdata", "scenarios"), filepath.Join("..", "..", "testdata", "rig")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := Parse("fuzz", b)
		if err != nil {
			if !errors.Is(err, ErrScenario) {
				t.Fatalf("an error that is not ErrScenario: %v", err)
			}
			return
		}
		devs, cards := map[string]bool{}, map[string]bool{}
		for _, d := range sc.Devices {
			devs[d.Name] = true
		}
		for _, c := range sc.Cards {
			cards[c.Name] = true
		}
		for i, s := range sc.Steps {
			ledgerClock := s.At == "ledger" && s.Clock != ""
			if s.At != "" && !devs[s.At] && !ledgerClock || s.Tap != "" && !cards[s.Tap] || len(s.actions()) > 1 {
				t.Fatalf("step %d accepted with a dangling reference or two actions: %+v", i+1, s)
			}
		}
	})
}
