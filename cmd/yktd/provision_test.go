package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/devkey"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
)

// provisionRun runs `yktd provision args...` and returns its exit code and
// its output.
func provisionRun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(append([]string{"provision"}, args...), &out, &out)
	return code, out.String()
}

func provReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProvisionThenRun: provisioning against the reference ledger on
// loopback, then the daemon on the written identity selling on the
// simulator without --enrol. A wrong --ledger-key and a used token are
// refused with nothing written; a re-run changes nothing; another ledger
// key is refused without --force; --force with a rekey token replaces the
// key at the ledger.
func TestProvisionThenRun(t *testing.T) {
	l := ledgertest.Start(t, ledgertest.Options{})
	if _, err := l.SetStatus("10012026120700000099", 1); err != nil {
		t.Fatal(err)
	}
	cfg := rigSimConfig(t, l.URL, l.Fingerprint())
	b := provReadFile(t, cfg)
	b = bytes.Replace(b, []byte(`kind = "pos"`), []byte("kind = \"pos\"\nsite = \"CANTEEN-1\""), 1)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	base := func(dir, tok, fp string) []string {
		return []string{"--ledger", l.URL, "--ledger-key", fp, "--token", tok, "--site", "CANTEEN-1", "--kind", "pos", "--config", cfg, "--dir", dir}
	}

	// A wrong fingerprint: refused, nothing written.
	// (At this reference ledger the token is spent on a key the device
	// never kept: another device id, so that RIG-POS-1 stays new.)
	tok0, _, _ := l.NewToken("RIG-POS-9", "pos")
	wrongDir := filepath.Join(t.TempDir(), "wrong")
	other := protocol.Fingerprint([]byte("another ledger"))
	b2 := bytes.Replace(b, []byte(l.Fingerprint()), []byte(other), 1)
	cfgOther := filepath.Join(t.TempDir(), "other.toml")
	if err := os.WriteFile(cfgOther, b2, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgWrong := filepath.Join(t.TempDir(), "wrong.toml")
	if err := os.WriteFile(cfgWrong, bytes.Replace(b2, []byte("RIG-POS-1"), []byte("RIG-POS-9"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	args := base(wrongDir, tok0, other)
	args[len(args)-3] = cfgWrong
	code, out := provisionRun(t, args...)
	if code != 1 || !strings.Contains(out, "signs with another key than --ledger-key") {
		t.Fatalf("wrong ledger key: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(wrongDir); !os.IsNotExist(err) {
		t.Fatalf("the wrong ledger key left %s: %v", wrongDir, err)
	}

	// The first provisioning.
	tok, _, _ := l.NewToken("RIG-POS-1", "pos")
	dir := filepath.Join(t.TempDir(), "dev")
	code, out = provisionRun(t, base(dir, tok, l.Fingerprint())...)
	if code != 0 {
		t.Fatalf("provision: exit %d\n%s", code, out)
	}
	k, err := devkey.InDir(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "provisioned: device RIG-POS-1") || !strings.Contains(out, k.Fingerprint()) || !strings.Contains(out, "(snapshot)") {
		t.Fatalf("provision output:\n%s", out)
	}
	for name, mode := range map[string]os.FileMode{"": 0o700, "device.key": 0o600, "ledger.pub": 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s/%s: %v %v, want %o", dir, name, st, err, mode)
		}
	}
	devs, err := l.Devices()
	if err != nil || len(devs) != 2 || devs[0].ID != "RIG-POS-1" || protocol.Fingerprint(devs[0].PublicKey) != k.Fingerprint() {
		t.Fatalf("the ledger's devices: %+v %v", devs, err)
	}
	keyBytes, pinBytes := provReadFile(t, filepath.Join(dir, "device.key")), provReadFile(t, filepath.Join(dir, "ledger.pub"))

	// Again with the same values: nothing changes.
	code, out = provisionRun(t, base(dir, tok, l.Fingerprint())...)
	if code != 0 || strings.Count(out, "already") < 3 {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	if !bytes.Equal(keyBytes, provReadFile(t, filepath.Join(dir, "device.key"))) || !bytes.Equal(pinBytes, provReadFile(t, filepath.Join(dir, "ledger.pub"))) {
		t.Fatal("the re-run rewrote the identity")
	}

	// A used token on a new device directory: refused, nothing written.
	dirB := filepath.Join(t.TempDir(), "devB")
	code, out = provisionRun(t, base(dirB, tok, l.Fingerprint())...)
	if code != 1 || !strings.Contains(out, "refused the token") {
		t.Fatalf("used token: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(dirB); !os.IsNotExist(err) {
		t.Fatalf("the used token left %s: %v", dirB, err)
	}

	// Another ledger key over this identity: refused without --force.
	args = base(dir, tok, other)
	args[len(args)-3] = cfgOther
	code, out = provisionRun(t, args...)
	if code != 1 || !strings.Contains(out, "already provisioned with another identity") || !strings.Contains(out, "ledgerd device rekey RIG-POS-1") {
		t.Fatalf("changed ledger key: exit %d\n%s", code, out)
	}
	if !bytes.Equal(pinBytes, provReadFile(t, filepath.Join(dir, "ledger.pub"))) {
		t.Fatal("the refusal changed the pinned key")
	}

	// --force with a plain token: the ledger keeps the enrolled key.
	tok2, _, _ := l.NewToken("RIG-POS-1", "pos")
	code, out = provisionRun(t, append(base(dir, tok2, l.Fingerprint()), "--force")...)
	if code != 1 || !strings.Contains(out, "refused the token") {
		t.Fatalf("--force without a rekey token: exit %d\n%s", code, out)
	}
	if !bytes.Equal(keyBytes, provReadFile(t, filepath.Join(dir, "device.key"))) {
		t.Fatal("a refused --force replaced the key")
	}
	// --force with a rekey token: a new key, at the ledger too.
	rk, _, err := l.Rekey("RIG-POS-1")
	if err != nil {
		t.Fatal(err)
	}
	code, out = provisionRun(t, append(base(dir, rk, l.Fingerprint()), "--force")...)
	if code != 0 {
		t.Fatalf("--force with a rekey token: exit %d\n%s", code, out)
	}
	k2, err := devkey.InDir(dir).Load()
	if err != nil || k2.Fingerprint() == k.Fingerprint() {
		t.Fatalf("the key after --force: %v", err)
	}
	if devs, _ := l.Devices(); protocol.Fingerprint(devs[0].PublicKey) != k2.Fingerprint() {
		t.Fatalf("the ledger has %s, the device %s", protocol.Fingerprint(devs[0].PublicKey), k2.Fingerprint())
	}

	// The status list is in the store.
	s, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok, err := s.Lookup("10012026120700000099"); err != nil || !ok || e.Reason != offline.ReasonLost {
		t.Fatalf("the status list in the store: %+v %v %v", e, ok, err)
	}
	s.Close()

	// The daemon on that identity, without --enrol: it sells and syncs.
	tomorrow := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, 1).Format("20060102")
	rigCard(t, dir, "carol", "10012026120700000042", tomorrow, 10000)
	pr, pw := io.Pipe()
	defer pw.Close()
	r := startRun(t, 90*time.Second, pr, "run", "--sim", "--config", cfg, "--dir", dir, "--auto", "0")
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	off := len(r.stdout.String())
	ctl.post("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "carol"})
	awaitPrompt(t, r, off)
	if _, err := io.WriteString(pw, "12.50\n"); err != nil {
		t.Fatal(err)
	}
	recs := ctl.awaitTaps(1, 30*time.Second)
	if recs[0].Outcome != "paid" || recs[0].Amount != 1250 {
		t.Fatalf("carol's tap: %+v\nstderr:\n%s", recs[0], r.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		devs, _ := l.Devices()
		if devs[0].Stats.DebitCount == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sale did not reach the ledger: %+v\nstderr:\n%s", devs[0], r.stderr)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-context.Background().Done():
		}
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	if strings.Contains(r.stderr.String(), "not enrolled") {
		t.Errorf("the daemon did not find its enrolment:\n%s", r.stderr)
	}
}

// TestProvisionDefaults: without --config provision writes the kind's
// configuration (with device.site) into the data directory, and --soft-sam
// the test key file with a loud warning; a service desk (--kind desk)
// enrols as one.
func TestProvisionDefaults(t *testing.T) {
	l := ledgertest.Start(t, ledgertest.Options{})
	tok, _, _ := l.NewToken("GATE-1", "gate")
	dir := filepath.Join(t.TempDir(), "gate")
	samFile := filepath.Join(t.TempDir(), "sam.json")
	args := []string{"--ledger", l.URL, "--ledger-key", l.Fingerprint(), "--token", tok, "--site", "DORM-3-EAST",
		"--kind", "gate", "--device", "GATE-1", "--dir", dir, "--soft-sam", samFile}
	code, out := provisionRun(t, args...)
	if code != 0 || !strings.Contains(out, "NOT FOR THE FIELD") {
		t.Fatalf("provision: exit %d\n%s", code, out)
	}
	c, err := config.Load(filepath.Join(dir, "yktd.toml"))
	if err != nil || c.Device.Site != "DORM-3-EAST" || c.Device.Kind != "gate" || c.Sync.LedgerKey != l.Fingerprint() || c.Device.SAM != "soft:"+samFile {
		t.Fatalf("the written configuration: %+v %v", c, err)
	}
	if _, err := sam.ReadKeyFile(samFile); err != nil {
		t.Fatal(err)
	}
	cfgBytes := provReadFile(t, filepath.Join(dir, "yktd.toml"))
	if code, out = provisionRun(t, args...); code != 0 || !strings.Contains(out, "configuration: already provisioned") {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	if !bytes.Equal(cfgBytes, provReadFile(t, filepath.Join(dir, "yktd.toml"))) {
		t.Fatal("the re-run rewrote the configuration")
	}
	// Another site: refused without --force.
	args[7] = "DORM-3-WEST"
	if code, out = provisionRun(t, args...); code != 1 || !strings.Contains(out, `device.site "DORM-3-EAST", now "DORM-3-WEST"`) {
		t.Fatalf("another site: exit %d\n%s", code, out)
	}
	// A service desk (issue 15): its own token and configuration.
	dtok, _, _ := l.NewToken("DESK-1", "desk")
	ddir := filepath.Join(t.TempDir(), "desk")
	dargs := []string{"--ledger", l.URL, "--ledger-key", l.Fingerprint(), "--token", dtok, "--site", "HALL-WINDOW-6",
		"--kind", "desk", "--device", "DESK-1", "--dir", ddir, "--soft-sam", filepath.Join(t.TempDir(), "desk-sam.json")}
	if code, out = provisionRun(t, dargs...); code != 0 {
		t.Fatalf("--kind desk: exit %d\n%s", code, out)
	}
	if c, err := config.Load(filepath.Join(ddir, "yktd.toml")); err != nil || c.Device.Kind != "desk" || c.Device.SAM == "" {
		t.Fatalf("the desk's configuration: %+v %v", c, err)
	}
	if d, err := l.Device("DESK-1"); err != nil || d.Kind != "desk" || d.Site != "HALL-WINDOW-6" {
		t.Fatalf("the desk at the ledger: %+v %v", d, err)
	}
}

// TestDeviceKeyRunKeepsExisting: a device.key written before the key store
// (protocol PEM) is the key run signs with.
func TestDeviceKeyRunKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	k, err := devkey.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := devkey.InDir(dir).Write(k); err != nil {
		t.Fatal(err)
	}
	s, err := deviceSigner(dir, "POS-1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || protocol.Fingerprint(s.PublicKey().Key) != k.Fingerprint() {
		t.Fatalf("deviceSigner: %v", err)
	}
}
