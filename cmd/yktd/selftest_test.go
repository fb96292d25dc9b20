package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/selftest"
	bolt "go.etcd.io/bbolt"
)

// selftestDevice is a provisioned POS on the simulator: a virtual reader,
// a fake board with a door relay and a tamper input, the software SAM
// (test keys) and the reference ledger in-process on loopback.
type selftestDevice struct {
	t                   testing.TB
	l                   *ledgertest.Ledger
	id, dir, cfg, samKF string
	store               string
	// vars of the configuration (see write)
	ledgerURL, control, maxOffline, readers string
}

const selftestReaders = `[[reader]]
name = "sim:window"
driver = "sim"
`

// newSelftestDevice provisions a device with `yktd provision` against a
// ledger holding rules and a status list. The selftest's statfs sees 4 GiB
// free of 8 (the test machine's own disk is no fact of the test).
func newSelftestDevice(t testing.TB) *selftestDevice {
	t.Helper()
	l := ledgertest.Start(t, ledgertest.Options{})
	if _, err := l.SetRules(protocol.Rules{PINLimitFen: 5000, Prices: map[string]int64{"set-meal": 1250}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetStatus("10012026120700000099", 1); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	d := &selftestDevice{t: t, l: l, id: "POS-ST-1", dir: filepath.Join(root, "data"), samKF: filepath.Join(root, "sam.json"),
		cfg: filepath.Join(root, "yktd.toml"), ledgerURL: l.URL + "/", maxOffline: "168h", readers: selftestReaders}
	d.store = filepath.Join(d.dir, "yktd.db")
	if err := os.WriteFile(d.samKF, sam.TestKeyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	d.write()
	tok, _, err := l.NewToken(d.id, "pos")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"provision", "--ledger", l.URL, "--ledger-key", l.Fingerprint(), "--token", tok, "--site", "CANTEEN-1",
		"--kind", "pos", "--config", d.cfg, "--dir", d.dir}, &out, &out); code != 0 {
		t.Fatalf("provision: exit %d\n%s", code, out.String())
	}
	setSelftestEnv(t, func(e *selftestEnvT) {
		e.statfs = func(string) (uint64, uint64, error) { return 4 << 30, 8 << 30, nil }
	})
	return d
}

// write writes the device's configuration with its current vars.
func (d *selftestDevice) write() {
	d.t.Helper()
	ctl := ""
	if d.control != "" {
		ctl = fmt.Sprintf("\n[control]\nlisten = %q\n", d.control)
	}
	cfg := fmt.Sprintf(`[device]
id = %q
kind = "pos"
site = "CANTEEN-1"
data_dir = %q
sam = "soft:%s"
log_format = "text"

%s
[board]
backend = "fake"
tamper = "case"

[[board.relay]]
name = "door"

[[board.input]]
name = "case"

[pos]
mode = "fixed"
price_fen = 1250

[sync]
ledger = %q
insecure = true
ledger_key = %q
interval = "200ms"
min_backoff = "100ms"
max_backoff = "500ms"
timeout = "10s"
max_offline = %q
%s`, d.id, d.dir, d.samKF, d.readers, d.ledgerURL, d.l.Fingerprint(), d.maxOffline, ctl)
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// withStore opens the device's store read-write (nothing else holds it).
func (d *selftestDevice) withStore(fn func(s *offline.Store)) {
	d.t.Helper()
	s, err := offline.Open(d.store, offline.Options{DeviceID: d.id})
	if err != nil {
		d.t.Fatal(err)
	}
	fn(s)
	if err := s.Close(); err != nil {
		d.t.Fatal(err)
	}
}

type selftestEnvT = struct {
	now          func() time.Time
	statfs       func(path string) (free, total uint64, err error)
	storeOptions func(*offline.Options)
	readersBuilt func([]reader.Reader)
}

// setSelftestEnv changes selftestEnv for the test.
func setSelftestEnv(t testing.TB, mod func(*selftestEnvT)) {
	old := selftestEnv
	t.Cleanup(func() { selftestEnv = old })
	mod(&selftestEnv)
}

// selftestJSON runs `yktd selftest --config CFG --json args...` and
// returns its exit code and report.
func (d *selftestDevice) selftestJSON(args ...string) (int, selftest.Report) {
	d.t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"selftest", "--config", d.cfg, "--json"}, args...), &out, &errb)
	var rep selftest.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		d.t.Fatalf("selftest --json: exit %d, not one JSON object (%v):\n%s\nstderr:\n%s", code, err, out.String(), errb.String())
	}
	if code != 0 && !strings.Contains(errb.String(), "yktd selftest: selftest: checks failed") {
		d.t.Errorf("exit %d without naming the failed checks on stderr: %q", code, errb.String())
	}
	return code, rep
}

// wantCheck fails the test unless the report has the check with result.
func wantCheck(t testing.TB, rep selftest.Report, name string, res selftest.Result, fragments ...string) selftest.Check {
	t.Helper()
	c, ok := rep.Check(name)
	if !ok {
		t.Fatalf("no check %q in %s", name, dumpReport(rep))
	}
	if c.Result != res {
		t.Fatalf("check %s: %s, want %s: %+v\n%s", name, c.Result, res, c, dumpReport(rep))
	}
	for _, f := range fragments {
		if !strings.Contains(c.Detail, f) {
			t.Errorf("check %s: detail %q lacks %q", name, c.Detail, f)
		}
	}
	if c.ZH == "" || ((res == selftest.Warn || res == selftest.Fail) && c.Fix == "") {
		t.Errorf("check %s: no Chinese line or no fix: %+v", name, c)
	}
	return c
}

func dumpReport(rep selftest.Report) string {
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	return b.String()
}

// TestSelftestHealthy: a provisioned POS on the simulator passes every
// check it runs; the software SAM with the test keys warns, which is OK,
// and what was not asked for (a tap, the relays) is skipped.
func TestSelftestHealthy(t *testing.T) {
	d := newSelftestDevice(t)
	code, rep := d.selftestJSON()
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d:\n%s", code, dumpReport(rep))
	}
	if rep.Device != d.id || rep.Kind != "pos" || rep.Mode != selftest.Alone || rep.Version != version || rep.ElapsedMS < 0 {
		t.Fatalf("report header: %+v", rep)
	}
	want := []struct {
		name string
		res  selftest.Result
	}{
		{"config", selftest.Pass}, {"daemon", selftest.Pass}, {"reader:sim:window", selftest.Pass}, {"psam", selftest.Warn},
		{"board", selftest.Pass}, {"relays", selftest.Skip}, {"tap", selftest.Skip},
		{"store", selftest.Pass}, {"tamper", selftest.Pass}, {"intents", selftest.Pass}, {"disk", selftest.Pass}, {"capacity", selftest.Pass},
		{"ledger", selftest.Pass}, {"enrolment", selftest.Pass}, {"clock", selftest.Pass}, {"status_list", selftest.Pass}, {"rules", selftest.Pass},
	}
	if len(rep.Checks) != len(want) {
		t.Fatalf("%d checks, want %d:\n%s", len(rep.Checks), len(want), dumpReport(rep))
	}
	for i, w := range want {
		if c := rep.Checks[i]; c.Name != w.name || c.Result != w.res {
			t.Errorf("check %d: %s %s, want %s %s (%s)", i, c.Name, c.Result, w.name, w.res, c.Detail)
		}
	}
	wantCheck(t, rep, "psam", selftest.Warn, "terminal id", "TEST KEYS")
	wantCheck(t, rep, "board", selftest.Pass, "case=inactive")
	wantCheck(t, rep, "store", selftest.Pass, "verified")
	wantCheck(t, rep, "ledger", selftest.Pass, "answered a signed request")
	wantCheck(t, rep, "enrolment", selftest.Pass, d.id)
	wantCheck(t, rep, "clock", selftest.Pass, "HTTP Date header")
	wantCheck(t, rep, "status_list", selftest.Pass, "version 2, 1 cards")
	wantCheck(t, rep, "rules", selftest.Pass, "version 1")

	// The text form: one line per check, the summary last.
	var out bytes.Buffer
	if code := run([]string{"selftest", "--config", d.cfg}, &out, &out); code != 0 {
		t.Fatalf("text: exit %d\n%s", code, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "yktd selftest: device POS-ST-1 (pos), alone") || !strings.Contains(lines[len(lines)-1], "14 pass, 1 warn, 0 fail, 2 skip") {
		t.Fatalf("text report:\n%s", out.String())
	}
	for _, w := range []string{"PASS  store ", "WARN  psam ", "do: in the field seat a PSAM", "中文: 正在使用软件PSAM", "SKIP  relays "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("text report lacks %q:\n%s", w, out.String())
		}
	}
}

// TestSelftestFailures: one fault injected per subtest on a healthy
// device; each names its check, its result and the exit code.
func TestSelftestFailures(t *testing.T) {
	t.Run("no reader", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.readers = ""
		d.write()
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "readers", selftest.Fail, "no [[reader]]")
		wantCheck(t, rep, "tap", selftest.Skip)
		wantExit(t, code, 1, rep)
	})
	t.Run("reader missing", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.readers = selftestReaders + fmt.Sprintf("\n[[reader]]\nname = \"nfc\"\ndriver = \"pn532\"\ndevice = %q\n", filepath.Join(t.TempDir(), "ttyUSB9"))
		d.write()
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "reader:sim:window", selftest.Pass)
		c := wantCheck(t, rep, "reader:nfc", selftest.Fail, "does not open")
		if !strings.Contains(c.Fix, "ls -l") {
			t.Errorf("fix: %q", c.Fix)
		}
		wantExit(t, code, 1, rep)
	})
	t.Run("psam key file missing", func(t *testing.T) {
		d := newSelftestDevice(t)
		if err := os.Remove(d.samKF); err != nil {
			t.Fatal(err)
		}
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "psam", selftest.Fail, "missing")
		wantExit(t, code, 1, rep)
	})
	t.Run("psam key file wrong", func(t *testing.T) {
		d := newSelftestDevice(t)
		bad := bytes.Replace(sam.TestKeyFile, []byte(`"terminal_id"`), []byte(`"terminal"`), 1)
		if err := os.WriteFile(d.samKF, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "psam", selftest.Fail, "does not load")
		wantExit(t, code, 1, rep)
		if err := os.WriteFile(d.samKF, sam.TestKeyFile, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.samKF, 0o644); err != nil {
			t.Fatal(err)
		}
		code, rep = d.selftestJSON()
		if c := wantCheck(t, rep, "psam", selftest.Fail, "mode"); c.Fix != "chmod 600 "+d.samKF {
			t.Errorf("fix %q", c.Fix)
		}
		wantExit(t, code, 1, rep)
	})
	t.Run("psam changed since the last sale", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.withStore(func(s *offline.Store) {
			in, err := s.OpenIntent(offline.PurchaseIntent{CardNo: "10012026120700000042", Amount: 1250, BalanceBefore: 5000, CardCounter: 3,
				TerminalID: []byte{0, 0, 0, 0, 0, 0x77}, TerminalSeq: 9, TxTime: []byte{0x20, 0x26, 0x12, 0x07, 0x12, 0, 0},
				CardSerial: []byte{1, 2, 3, 4, 5, 6, 7, 8}, KeyIndex: 1, KeyVersion: 1, MAC1: []byte{1, 2, 3, 4}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.VoidIntent(in.ID, "card-removed"); err != nil {
				t.Fatal(err)
			}
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "psam", selftest.Warn, "was made with 000000000077", "the PSAM was changed")
		wantExit(t, code, 0, rep)
	})
	t.Run("store chain broken", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.withStore(func(s *offline.Store) {
			for range 3 {
				if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "door-held-open"}); err != nil {
					t.Fatal(err)
				}
			}
		})
		seq := breakChain(t, d.store)
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "store", selftest.Fail, fmt.Sprintf("broken at record %d", seq))
		wantExit(t, code, 1, rep)
	})
	t.Run("disk critical", func(t *testing.T) {
		d := newSelftestDevice(t)
		setSelftestEnv(t, func(e *selftestEnvT) {
			e.statfs = func(string) (uint64, uint64, error) { return 10 << 20, 8 << 30, nil }
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "disk", selftest.Fail, "10 MiB free", "cannot grow")
		wantExit(t, code, 1, rep)
	})
	t.Run("capacity full", func(t *testing.T) {
		d := newSelftestDevice(t)
		setSelftestEnv(t, func(e *selftestEnvT) {
			e.storeOptions = func(o *offline.Options) { o.MaxUnacked, o.Reserve = 3, 1 }
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "capacity", selftest.Fail, "storage full")
		wantExit(t, code, 1, rep)
	})
	t.Run("clock before the build date", func(t *testing.T) {
		d := newSelftestDevice(t)
		setSelftestEnv(t, func(e *selftestEnvT) {
			e.now = func() time.Time { return time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC) }
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "clock", selftest.Fail, "2020-01-01T08:00:00Z, before this yktd was built")
		wantExit(t, code, 1, rep)
	})
	t.Run("clock far from the ledger's", func(t *testing.T) {
		d := newSelftestDevice(t)
		setSelftestEnv(t, func(e *selftestEnvT) { e.now = func() time.Time { return time.Now().Add(-20 * time.Minute) } })
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "clock", selftest.Fail, "behind the journal's latest time")
		wantExit(t, code, 1, rep)
		setSelftestEnv(t, func(e *selftestEnvT) { e.now = func() time.Time { return time.Now().Add(20 * time.Minute) } })
		code, rep = d.selftestJSON()
		wantCheck(t, rep, "clock", selftest.Fail, "the ledger's time (HTTP Date header of its answer", "behind this clock")
		wantExit(t, code, 1, rep)
	})
	t.Run("ledger unreachable within max_offline", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.ledgerURL = closedPort(t)
		d.write()
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "ledger", selftest.Warn, "unreachable", "within sync.max_offline")
		wantCheck(t, rep, "enrolment", selftest.Warn, "cannot be asked")
		wantCheck(t, rep, "status_list", selftest.Pass)
		wantCheck(t, rep, "clock", selftest.Pass, "not compared with the ledger")
		wantExit(t, code, 0, rep)
	})
	t.Run("ledger unreachable beyond max_offline", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.ledgerURL = closedPort(t)
		d.write()
		d.withStore(func(s *offline.Store) {
			if err := s.RecordContact(time.Now().Add(-8 * 24 * time.Hour)); err != nil {
				t.Fatal(err)
			}
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "ledger", selftest.Fail, "beyond sync.max_offline", "offline_too_long")
		wantExit(t, code, 1, rep)
	})
	t.Run("status list older than max_offline", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.ledgerURL, d.maxOffline = closedPort(t), "2h"
		d.write()
		d.withStore(func(s *offline.Store) {
			if err := s.RecordContact(time.Now().Add(-3 * time.Hour)); err != nil {
				t.Fatal(err)
			}
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "status_list", selftest.Fail, "version 2", "confirmed by the ledger 3h 0m ago", "takes no money (offline_too_long)")
		wantCheck(t, rep, "rules", selftest.Warn, "past the limit")
		wantExit(t, code, 1, rep)
	})
	t.Run("status list past max_offline, ledger answers now", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.maxOffline = "2h"
		d.write()
		d.withStore(func(s *offline.Store) {
			if err := s.RecordContact(time.Now().Add(-3 * time.Hour)); err != nil {
				t.Fatal(err)
			}
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "status_list", selftest.Warn, "the ledger answers now")
		wantExit(t, code, 0, rep)
	})
	t.Run("status list behind the ledger", func(t *testing.T) {
		d := newSelftestDevice(t)
		if _, err := d.l.SetStatus("10012026120700000098", 2); err != nil {
			t.Fatal(err)
		}
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "status_list", selftest.Warn, "the ledger has version 3")
		wantExit(t, code, 0, rep)
		d.withStore(func(s *offline.Store) {
			if si, err := s.StatusInfo(); err != nil || si.Version != 2 {
				t.Fatalf("the selftest changed the status list: %+v %v", si, err)
			}
		})
	})
	t.Run("device revoked", func(t *testing.T) {
		d := newSelftestDevice(t)
		if err := d.l.Revoke(d.id); err != nil {
			t.Fatal(err)
		}
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "enrolment", selftest.Fail, "revoked")
		wantCheck(t, rep, "ledger", selftest.Pass)
		wantExit(t, code, 1, rep)
		d.withStore(func(s *offline.Store) {
			if st, err := s.SyncState(); err != nil || st.Revoked {
				t.Fatalf("the selftest wrote the revocation into the store: %+v %v", st, err)
			}
		})
	})
	t.Run("not enrolled", func(t *testing.T) {
		d := newSelftestDevice(t)
		if err := os.Remove(filepath.Join(d.dir, ledgerKeyFile)); err != nil {
			t.Fatal(err)
		}
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "enrolment", selftest.Fail, "never enrolled")
		wantCheck(t, rep, "ledger", selftest.Skip)
		wantExit(t, code, 1, rep)
	})
	t.Run("tamper alarm not cleared", func(t *testing.T) {
		d := newSelftestDevice(t)
		d.withStore(func(s *offline.Store) {
			if _, err := s.JournalTamper(); err != nil {
				t.Fatal(err)
			}
		})
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "tamper", selftest.Fail, "not cleared")
		wantExit(t, code, 1, rep)
	})
	t.Run("no store", func(t *testing.T) {
		d := newSelftestDevice(t)
		if err := os.Rename(d.store, d.store+".aside"); err != nil {
			t.Fatal(err)
		}
		code, rep := d.selftestJSON()
		wantCheck(t, rep, "store", selftest.Fail)
		wantCheck(t, rep, "status_list", selftest.Skip)
		wantExit(t, code, 1, rep)
	})
	t.Run("config unreadable", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"selftest", "--json", "--config", filepath.Join(t.TempDir(), "none.toml")}, &out, &errb)
		var rep selftest.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		wantCheck(t, rep, "config", selftest.Fail)
		wantExit(t, code, 1, rep)
	})
}

// TestSelftestTapAndRelays: --tap waits for a card on the virtual reader
// and fails when none comes within --timeout; --relays pulses the door.
func TestSelftestTapAndRelays(t *testing.T) {
	d := newSelftestDevice(t)
	card, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	setSelftestEnv(t, func(e *selftestEnvT) {
		e.readersBuilt = func(rs []reader.Reader) { rs[0].(*sim.Reader).Tap(card) }
	})
	code, rep := d.selftestJSON("--tap", "--relays")
	wantCheck(t, rep, "tap", selftest.Pass, "card on sim:window")
	wantCheck(t, rep, "relays", selftest.Pass, "pulsed door (300ms)")
	wantExit(t, code, 0, rep)

	setSelftestEnv(t, func(e *selftestEnvT) { e.readersBuilt = nil })
	began := time.Now()
	code, rep = d.selftestJSON("--tap", "--timeout", "1s")
	wantCheck(t, rep, "tap", selftest.Fail, "no card")
	wantExit(t, code, 1, rep)
	if el := time.Since(began); el > 5*time.Second {
		t.Errorf("--tap --timeout 1s took %v", el)
	}
}

// TestSelftestBesideDaemon: beside a running `yktd run` (a real process
// holding the store and the readers) the selftest does not wait on the
// store's lock, reads the daemon's GET /v1/health on its unix socket, and
// passes; with the control interface off it says it cannot read the store
// and still ends within --timeout.
func TestSelftestBesideDaemon(t *testing.T) {
	d := newSelftestDevice(t)
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	d.control = "unix:" + sock
	d.write()
	p := startYktd(t, "run", "--config", d.cfg)
	p.waitLog(t, "yktd: running")
	ctl := newCtl(t, d.dir, d.control)
	deadline := time.Now().Add(30 * time.Second)
	for h := ctl.health(); len(h.Readers) == 0 || !h.Readers[0].Up || !h.Working; h = ctl.health() {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never worked with its reader up: %+v", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	began := time.Now()
	code, rep := d.selftestJSON("--timeout", "10s")
	if el := time.Since(began); el > 10*time.Second {
		t.Fatalf("selftest beside the daemon took %v", el)
	}
	if rep.Mode != selftest.Daemon {
		t.Fatalf("mode %s:\n%s", rep.Mode, dumpReport(rep))
	}
	wantCheck(t, rep, "daemon", selftest.Pass, "running, answers on "+d.control, "working")
	wantCheck(t, rep, "reader:sim:window", selftest.Pass, "held by the running daemon")
	wantCheck(t, rep, "psam", selftest.Warn, "TEST KEYS")
	wantCheck(t, rep, "board", selftest.Skip, "held by the running daemon")
	wantCheck(t, rep, "relays", selftest.Skip, "held by the running daemon")
	wantCheck(t, rep, "store", selftest.Pass, "running daemon verified")
	wantCheck(t, rep, "tamper", selftest.Pass)
	wantCheck(t, rep, "capacity", selftest.Pass)
	wantCheck(t, rep, "ledger", selftest.Pass)
	wantCheck(t, rep, "enrolment", selftest.Pass)
	wantCheck(t, rep, "status_list", selftest.Pass, "version 2, 1 cards")
	wantCheck(t, rep, "rules", selftest.Pass, "version 1")
	code2, rep2 := d.selftestJSON("--tap", "--relays")
	wantCheck(t, rep2, "tap", selftest.Skip, "a tap there is a sale")
	wantExit(t, code, 0, rep)
	wantExit(t, code2, 0, rep2)
	if c := p.term(t); c != 0 {
		t.Fatalf("the daemon exited %d", c)
	}

	// The control interface off: the store is held and cannot be read.
	d.control = ""
	d.write()
	p = startYktd(t, "run", "--config", d.cfg)
	p.waitLog(t, "yktd: running")
	began = time.Now()
	code, rep = d.selftestJSON("--timeout", "5s")
	if el := time.Since(began); el > 5*time.Second+time.Second {
		t.Fatalf("selftest beside a silent daemon took %v", el)
	}
	if rep.Mode != selftest.Held {
		t.Fatalf("mode %s:\n%s", rep.Mode, dumpReport(rep))
	}
	wantCheck(t, rep, "daemon", selftest.Warn, "control interface is off")
	wantCheck(t, rep, "store", selftest.Skip, "held by another process")
	wantCheck(t, rep, "enrolment", selftest.Pass)
	wantExit(t, code, 0, rep)
	if c := p.term(t); c != 0 {
		t.Fatalf("the daemon exited %d", c)
	}
}

// TestSelftestStatfs: the real statfs reads a file system's free space.
func TestSelftestStatfs(t *testing.T) {
	free, total, err := statfs(t.TempDir())
	if err != nil || total == 0 || free > total {
		t.Fatalf("statfs: %d free of %d, %v", free, total, err)
	}
	if _, _, err := statfs(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("statfs of a missing path: no error")
	}
}

// BenchmarkSelftest: a whole selftest (no --tap, no --relays) of the
// provisioned simulator device, alone, the real statfs; budget < 2 s.
func BenchmarkSelftest(b *testing.B) {
	d := newSelftestDevice(b)
	selftestEnv.statfs = statfs
	for b.Loop() {
		var out bytes.Buffer
		if code := run([]string{"selftest", "--config", d.cfg, "--json"}, &out, &out); code != 0 {
			b.Fatalf("exit %d\n%s", code, out.String())
		}
	}
}

func wantExit(t testing.TB, code, want int, rep selftest.Report) {
	t.Helper()
	if code != want || rep.OK != (want == 0) {
		t.Fatalf("exit %d (ok %v), want %d:\n%s", code, rep.OK, want, dumpReport(rep))
	}
}

// closedPort returns the URL of a loopback port nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/"
}

// breakChain writes the bytes of the journal's second-to-last record
// under the last record's key in the bbolt file (the store closed): the
// record at the head then carries the sequence before it. It returns the
// head's sequence, the first one broken.
func breakChain(t testing.TB, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq uint64
	err = db.Update(func(tx *bolt.Tx) error {
		j := tx.Bucket([]byte("journal"))
		c := j.Cursor()
		k, _ := c.Last()
		prev, v := c.Prev()
		if k == nil || prev == nil {
			return fmt.Errorf("journal has fewer than two records")
		}
		seq = binary.BigEndian.Uint64(k)
		return j.Put(bytes.Clone(k), bytes.Clone(v))
	})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}
