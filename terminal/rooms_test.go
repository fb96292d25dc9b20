package terminal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md §2, checked on the module's
// real dependency graph (go list): a kind of device (terminal/pos,
// terminal/gate, terminal/kiosk) imports no other kind and not the daemon;
// what the kinds share imports no kind; the rooms below the terminal never
// import it; protocol imports nothing of ours but itself; reader/epurse
// never imports reader/sam; the ledger no reader driver and no board.

const module = "github.com/openykt/yktd/"

// kinds are the rooms of one kind of device each.
var kinds = []string{"terminal/pos", "terminal/gate", "terminal/kiosk"}

// shared are what every kind may import from terminal/.
var shared = []string{"terminal/cardread", "terminal/hold", "terminal/policy", "terminal/ui", "terminal/config", "terminal/readers", "terminal/load"}

// readerDrivers are the reader packages that talk to hardware or simulate it.
var readerDrivers = []string{"reader/pcsc", "reader/pn532", "reader/sim", "reader/qrscan", "reader/wiegand", "reader/vpcd"}

// under reports whether pkg is room or inside it.
func under(pkg, room string) bool { return pkg == room || strings.HasPrefix(pkg, room+"/") }

func underAny(pkg string, rooms []string) bool {
	return slices.ContainsFunc(rooms, func(r string) bool { return under(pkg, r) })
}

// roomViolations checks deps (package → its transitive dependencies, both
// without the module prefix; other modules' packages left out) against the
// rules and returns each broken one.
func roomViolations(deps map[string][]string) []string {
	var out []string
	bad := func(pkg, dep, rule string) { out = append(out, pkg+" imports "+dep+": "+rule) }
	for pkg, ds := range deps {
		for _, d := range ds {
			switch {
			case underAny(pkg, kinds) && underAny(d, kinds) && !under(d, kindOf(pkg)):
				bad(pkg, d, "a kind of device imports no other kind")
			case (underAny(pkg, kinds) || underAny(pkg, shared)) && d == "terminal":
				bad(pkg, d, "the daemon wires the kinds, not the other way round")
			case underAny(pkg, shared) && underAny(d, kinds):
				bad(pkg, d, "what the kinds share imports no kind")
			case underAny(pkg, []string{"reader", "board", "offline", "protocol", "ledger"}) && (under(d, "terminal") || under(d, "cmd")):
				bad(pkg, d, "the rooms below the terminal never import it")
			case under(pkg, "protocol") && !under(d, "protocol"):
				bad(pkg, d, "protocol imports no other package of ours")
			case under(pkg, "reader/epurse") && under(d, "reader/sam"):
				bad(pkg, d, "reader/epurse declares the SAM it needs; it never imports reader/sam")
			case pkg == "ledger" && (underAny(d, readerDrivers) || under(d, "board")):
				bad(pkg, d, "the ledger imports no reader driver and no board")
			case under(pkg, "board") && !under(d, "board") && !under(d, "internal"):
				bad(pkg, d, "board imports nothing of ours")
			}
		}
	}
	slices.Sort(out)
	return out
}

func kindOf(pkg string) string {
	for _, k := range kinds {
		if under(pkg, k) {
			return k
		}
	}
	return ""
}

// TestRoomRulesCatch: the checker itself finds each kind of violation.
func TestRoomRulesCatch(t *testing.T) {
	deps := map[string][]string{
		"terminal/pos":      {"terminal/cardread", "terminal/gate"},
		"terminal/gate":     {"terminal"},
		"terminal/cardread": {"terminal/pos/internal/x"},
		"offline":           {"terminal/policy"},
		"protocol":          {"offline"},
		"reader/epurse":     {"reader/sam"},
		"ledger":            {"reader/epurse", "reader/pcsc"},
		"board":             {"internal/atomicfile", "reader"},
		"terminal/kiosk":    {"terminal/hold", "terminal/ui"},
	}
	got := roomViolations(deps)
	want := []string{
		"board imports reader",
		"ledger imports reader/pcsc",
		"offline imports terminal/policy",
		"protocol imports offline",
		"reader/epurse imports reader/sam",
		"terminal/cardread imports terminal/pos/internal/x",
		"terminal/gate imports terminal",
		"terminal/pos imports terminal/gate",
	}
	if len(got) != len(want) {
		t.Fatalf("violations:\n%s\nwant %d: %q", strings.Join(got, "\n"), len(want), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]+":") {
			t.Errorf("violation %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestRoomRules checks the module's own graph.
func TestRoomRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool; not under -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, ok := strings.CutPrefix(f[0], module)
		if !ok {
			continue
		}
		for _, d := range f[1:] {
			if d, ok := strings.CutPrefix(d, module); ok {
				deps[pkg] = append(deps[pkg], d)
			}
		}
		if _, seen := deps[pkg]; !seen {
			deps[pkg] = nil
		}
	}
	for _, k := range append(slices.Clone(kinds), shared...) {
		if _, ok := deps[k]; !ok {
			t.Errorf("go list does not show the room %s", k)
		}
	}
	for _, v := range roomViolations(deps) {
		t.Error(v)
	}
}
