package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/update"

	bolt "go.etcd.io/bbolt"
)

// TestUpdateSchemaKnown keeps buildStoreSchema and buildRecordKinds, what
// this build's releases declare, equal to what the store writes and the
// journal decodes.
func TestUpdateSchemaKnown(t *testing.T) {
	if !protocol.Kind(buildRecordKinds).Valid() || protocol.Kind(buildRecordKinds+1).Valid() {
		t.Fatalf("buildRecordKinds %d is not the highest record kind", buildRecordKinds)
	}
	p := filepath.Join(t.TempDir(), "s.db")
	s, err := offline.Open(p, offline.Options{DeviceID: "pos-0001"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema uint64
	_ = db.View(func(tx *bolt.Tx) error {
		schema = binary.BigEndian.Uint64(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return nil
	})
	if schema != buildStoreSchema {
		t.Fatalf("the store writes schema %d, buildStoreSchema is %d", schema, buildStoreSchema)
	}
}

// updateWorld is two builds of yktd stamped 1.0.0 and 1.1.0, a release key
// and the release of 1.1.0, made once for TestUpdate's subtests.
type updateWorld struct {
	dir, v1, v2, key, rel string
	arch                  string
}

func buildYktdVersion(t *testing.T, out, ver string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", ver, err, b)
	}
}

// yk runs a yktd binary and returns its output and exit code.
func yk(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code == 0 {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(b), code
}

func ykOK(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, code := yk(t, bin, nil, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", filepath.Base(bin), strings.Join(args, " "), code, out)
	}
	return out
}

// slots makes a slots directory with the release key pinned and v1 in
// slot a.
func (w *updateWorld) slots(t *testing.T) string {
	t.Helper()
	s := filepath.Join(t.TempDir(), "slots")
	ykOK(t, w.v1, "update", "pin", "--pub", w.key+".pub", "--slots", s)
	ykOK(t, w.v1, "update", "init", "--slots", s)
	return s
}

// release signs bin as version ver into a new directory.
func (w *updateWorld) release(t *testing.T, bin, ver string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rel-"+ver)
	args := append([]string{"update", "release", "--key", w.key, "--binary", bin, "--version", ver, "--arch", w.arch, "--out", out}, extra...)
	ykOK(t, w.v1, args...)
	return out
}

func currentVersion(t *testing.T, slots string) string {
	t.Helper()
	return strings.TrimSpace(ykOK(t, filepath.Join(slots, "current"), "version"))
}

func trialState(t *testing.T, slots string) update.State {
	t.Helper()
	st, err := (&update.Slots{Dir: slots}).State()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tree is every file of dir (content, or a link's target).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			m[p] = "-> " + l
			return nil
		}
		b, err := os.ReadFile(p)
		m[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// runTrial starts `current run --sim` with the slots and returns its
// process; the log goes to the returned buffer.
func runTrial(t *testing.T, slots, timeout string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(slots, "current"), "run", "--sim", "--no-ledger", "--auto", "0",
		"--dir", t.TempDir(), "--control", "127.0.0.1:0", "--update-slots", slots, "--health-timeout", timeout)
	cmd.Stdout, cmd.Stderr = &log, &log
	stdin, _ := cmd.StdinPipe()
	t.Cleanup(func() { stdin.Close() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &log
}

func waitPhase(t *testing.T, slots, phase string, within time.Duration) update.State {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := trialState(t, slots)
		if st.Phase == phase {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("trial state %+v, want phase %q", st, phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUpdate runs the update with real processes: two builds of yktd
// stamped with different versions, the release made and applied by the
// CLI, the trial run by `yktd run`.
func TestUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds yktd twice; not under -short")
	}
	dir := t.TempDir()
	w := &updateWorld{dir: dir, v1: filepath.Join(dir, "yktd-1.0.0"), v2: filepath.Join(dir, "yktd-1.1.0"),
		key: filepath.Join(dir, "release.key"), arch: runtime.GOOS + "/" + runtime.GOARCH}
	buildYktdVersion(t, w.v1, "1.0.0")
	buildYktdVersion(t, w.v2, "1.1.0")
	out := ykOK(t, w.v1, "update", "keygen", "--out", w.key)
	if !strings.Contains(out, "fingerprint sha256:") {
		t.Fatalf("keygen: %s", out)
	}
	w.rel = w.release(t, w.v2, "1.1.0", "--notes", "修复 / fixes")

	t.Run("GoodUpdateCommits", func(t *testing.T) {
		s := w.slots(t)
		out := ykOK(t, w.v1, "update", "apply", w.rel, "--slots", s)
		for _, want := range []string{"release 1.1.0", "writing: 100%", "installed 1.1.0 into slot b"} {
			if !strings.Contains(out, want) {
				t.Errorf("apply output lacks %q:\n%s", want, out)
			}
		}
		if v := currentVersion(t, s); v != "yktd 1.1.0" {
			t.Fatalf("current is %q", v)
		}
		cmd, log := runTrial(t, s, "30s")
		st := waitPhase(t, s, update.PhaseCommitted, 60*time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("trial run exit %d\n%s", code, log)
		}
		if st.Attempts != 1 || st.ToVersion != "1.1.0" {
			t.Fatalf("committed state %+v", st)
		}
		if status := ykOK(t, w.v2, "update", "status", "--slots", s); !strings.Contains(status, "* slot b: yktd 1.1.0") || !strings.Contains(status, "committed") {
			t.Errorf("status:\n%s", status)
		}
		// The next start is no trial.
		cmd, _ = runTrial(t, s, "30s")
		time.Sleep(time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if st2 := trialState(t, s); st2.Phase != update.PhaseCommitted || st2.Attempts != 1 {
			t.Fatalf("after a second start: %+v", st2)
		}
	})

	t.Run("RefusalsChangeNothing", func(t *testing.T) {
		s := w.slots(t)
		bin := filepath.Join(w.rel, "yktd-1.1.0-"+archFile(w.arch))
		orig, _ := os.ReadFile(bin)
		manifest, _ := os.ReadFile(filepath.Join(w.rel, releaseManifest))
		cases := map[string]func(dir string){
			"bad signature": func(d string) {
				m := bytes.Clone(manifest)
				m[len(m)-5] ^= 1
				os.WriteFile(filepath.Join(d, releaseManifest), m, 0o644)
			},
			"wrong hash": func(d string) {
				b := bytes.Clone(orig)
				b[len(b)/2] ^= 1
				os.WriteFile(filepath.Join(d, filepath.Base(bin)), b, 0o755)
			},
			"truncated": func(d string) {
				os.WriteFile(filepath.Join(d, filepath.Base(bin)), orig[:len(orig)*2/3], 0o755)
			},
		}
		wantErr := map[string]string{"bad signature": "signature", "wrong hash": "SHA-256", "truncated": "size"}
		for name, spoil := range cases {
			d := filepath.Join(t.TempDir(), "rel")
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, releaseManifest), manifest, 0o644)
			os.WriteFile(filepath.Join(d, filepath.Base(bin)), orig, 0o755)
			spoil(d)
			before := tree(t, s)
			out, code := yk(t, w.v1, nil, "update", "apply", d, "--slots", s)
			if code == 0 || !strings.Contains(out, "nothing changed") || !strings.Contains(out, wantErr[name]) {
				t.Errorf("%s: exit %d\n%s", name, code, out)
			}
			if !sameTree(before, tree(t, s)) {
				t.Errorf("%s changed the slots", name)
			}
		}
		down := w.release(t, w.v1, "0.9.0")
		before := tree(t, s)
		out, code := yk(t, w.v1, nil, "update", "apply", down, "--slots", s)
		if code == 0 || !strings.Contains(out, "not newer") {
			t.Errorf("downgrade: exit %d\n%s", code, out)
		}
		if !sameTree(before, tree(t, s)) {
			t.Error("the downgrade changed the slots")
		}
		if v := currentVersion(t, s); v != "yktd 1.0.0" {
			t.Fatalf("current %q", v)
		}
		// A signed downgrade is taken.
		signed := w.release(t, w.v1, "0.9.0", "--downgrade")
		ykOK(t, w.v1, "update", "apply", signed, "--slots", s)
	})

	t.Run("ExitAtStartRollsBack", func(t *testing.T) {
		s := w.slots(t)
		ykOK(t, w.v1, "update", "apply", w.rel, "--slots", s)
		cur := filepath.Join(s, "current")
		// 1.1.0 counts its start, then exits: its configuration is missing.
		for i := 1; i <= update.DefaultMaxAttempts; i++ {
			out, code := yk(t, cur, nil, "run", "--config", filepath.Join(s, "missing.toml"), "--update-slots", s)
			if code == 0 {
				t.Fatalf("start %d exited 0: %s", i, out)
			}
			if st := trialState(t, s); st.Attempts != i || st.Phase != update.PhaseTrial {
				t.Fatalf("after start %d: %+v", i, st)
			}
		}
		out, code := yk(t, cur, nil, "run", "--config", filepath.Join(s, "missing.toml"), "--update-slots", s)
		if code != 1 || !strings.Contains(out, "rolled back") {
			t.Fatalf("start after the last attempt: exit %d\n%s", code, out)
		}
		if v := currentVersion(t, s); v != "yktd 1.0.0" {
			t.Fatalf("current %q after rollback", v)
		}
		st := trialState(t, s)
		if st.Phase != update.PhaseRolledBack || !strings.Contains(st.Reason, "started 3 times") {
			t.Fatalf("state %+v", st)
		}
		// A binary that dies before it can count (here a script) is
		// counted by the service's start hook, run by the packaged yktd.
		script := filepath.Join(t.TempDir(), "broken")
		os.WriteFile(script, []byte("#!/bin/sh\nexit 7\n"), 0o755)
		ykOK(t, w.v1, "update", "apply", w.release(t, script, "1.2.0"), "--slots", s)
		for i := 1; i <= update.DefaultMaxAttempts+1; i++ {
			ykOK(t, w.v1, "update", "boot", "--slots", s)
			if _, code := yk(t, cur, nil, "run"); i <= update.DefaultMaxAttempts && code != 7 {
				t.Fatalf("start %d of the script: exit %d", i, code)
			}
		}
		if v := currentVersion(t, s); v != "yktd 1.0.0" {
			t.Fatalf("current %q after the script's rollback", v)
		}
		if status := ykOK(t, w.v1, "update", "status", "--slots", s); !strings.Contains(status, "rolled_back 1.0.0 -> 1.2.0") {
			t.Fatalf("status:\n%s", status)
		}
	})

	t.Run("KillAtEveryStep", func(t *testing.T) {
		for k := int(update.StepWritten); k <= int(update.StepSwitched); k++ {
			s := w.slots(t)
			out, code := yk(t, w.v1, []string{updateKillAtEnv + "=" + strconv.Itoa(k)}, "update", "apply", w.rel, "--slots", s)
			if code != -1 {
				t.Fatalf("step %d: not killed (exit %d)\n%s", k, code, out)
			}
			v := currentVersion(t, s) // current is a whole binary that starts
			if v != "yktd 1.0.0" && v != "yktd 1.1.0" {
				t.Fatalf("step %d: current %q", k, v)
			}
			if k < int(update.StepSwitched) && v != "yktd 1.0.0" {
				t.Fatalf("step %d: switched before the switch: %q", k, v)
			}
			// The start hook tidies a cut install; applying again finishes it.
			ykOK(t, w.v1, "update", "boot", "--slots", s)
			if v == "yktd 1.0.0" {
				ykOK(t, w.v1, "update", "apply", w.rel, "--slots", s)
			}
			if v := currentVersion(t, s); v != "yktd 1.1.0" {
				t.Fatalf("step %d: after apply again: %q", k, v)
			}
			if st := trialState(t, s); st.Phase != update.PhaseTrial {
				t.Fatalf("step %d: state %+v", k, st)
			}
		}
	})
}

// TestUpdateHealthProblem: what keeps a trial from committing.
func TestUpdateHealthProblem(t *testing.T) {
	ok := terminal.Health{Journal: terminal.HealthJournal{ChainOK: true}, Readers: []terminal.HealthReader{{Name: "r1", Up: true}}}
	if p := healthProblem(ok); p != "" {
		t.Fatalf("healthy: %q", p)
	}
	for want, edit := range map[string]func(*terminal.Health){
		"chain broken": func(h *terminal.Health) { h.Journal.ChainOK, h.Journal.BrokenAt = false, 7 },
		"store":        func(h *terminal.Health) { h.Errors = []string{"read"} },
		"no reader":    func(h *terminal.Health) { h.Readers = nil },
		"not running":  func(h *terminal.Health) { h.Readers = []terminal.HealthReader{{Name: "r1"}} },
		"ledger":       func(h *terminal.Health) { h.Sync.Configured = true },
	} {
		h := ok
		edit(&h)
		if p := healthProblem(h); !strings.Contains(p, want) {
			t.Errorf("%s: %q", want, p)
		}
	}
}
