package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openykt/yktd/internal/devkey"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal"
)

// TestProvisionAgainstLedgerd: the technician's path with the real
// processes: `ledgerd token new` at a served reference ledger, `yktd
// provision` with that token, then `yktd run --config` on the written
// identity selling a virtual card; the sale reaches the ledger. A re-run
// with the same values changes nothing; --force with a plain token is
// refused by the ledger and keeps the key; after `ledgerd device rekey`
// --force replaces it and the daemon still sells.
func TestProvisionAgainstLedgerd(t *testing.T) {
	l := startLedgerd(t)
	d := newDevice(t, l, "200ms", "student", "staff")
	cfg, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte(`kind = "pos"`), []byte("kind = \"pos\"\nsite = \"CANTEEN-2\""), 1)
	if err := os.WriteFile(d.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	token := func(cmd ...string) string {
		tok := strings.TrimSpace(l.admin(t, cmd...))
		if tok == "" || strings.ContainsAny(tok, " \n") {
			t.Fatalf("ledgerd %v printed %q, want one token", cmd, tok)
		}
		return tok
	}
	provision := func(tok string, extra ...string) (int, string) {
		args := append([]string{"provision", "--ledger", l.url, "--ledger-key", l.fingerprint, "--token", tok,
			"--site", "CANTEEN-2", "--kind", "pos", "--config", d.config}, extra...)
		p := startYktd(t, args...)
		code := p.exit(t)
		return code, p.stdout.String() + p.stderr.String()
	}
	sell := func(what, card string) {
		t.Helper()
		p := startYktd(t, "run", "--config", d.config)
		c := &rigCtl{t: t, dir: d.dir, addr: controlOf(t, p)}
		_, _, before := l.device(t, d.id)
		if rec := c.tap(card); rec.Outcome != "paid" || rec.Amount != 1250 {
			t.Fatalf("%s: the sale %+v\nstderr:\n%s", what, rec, p.stderr)
		}
		head := c.health().Journal.Head
		c.awaitHealth("the sale uploaded", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })
		if code := p.term(t); code != 0 {
			t.Fatalf("%s: yktd run exited %d\nstderr:\n%s", what, code, p.stderr)
		}
		if _, _, n := l.device(t, d.id); n != before+1 {
			t.Fatalf("%s: the ledger counts %d sales of %s, want %d", what, n, d.id, before+1)
		}
		if strings.Contains(p.stderr.String(), "not enrolled") {
			t.Errorf("%s: the daemon did not find its enrolment:\n%s", what, p.stderr)
		}
	}

	// A token for another site does not enrol the device (the site
	// binding): nothing is written, the device key is not kept.
	wrong := token("token", "new", "--data", l.data, "--device", d.id, "--kind", "pos", "--site", "LIBRARY-1")
	if code, out := provision(wrong); code == 0 || !strings.Contains(out, "site LIBRARY-1") {
		t.Fatalf("provision with a token for another site: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "device.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused enrolment left device.key: %v", err)
	}
	tok := token("token", "new", "--data", l.data, "--device", d.id, "--kind", "pos", "--site", "CANTEEN-2")
	code, out := provision(tok)
	if code != 0 {
		t.Fatalf("provision: exit %d\n%s", code, out)
	}
	for _, want := range []string{"enrolment: the ledger took the device key", "ledger key: pinned", "status list: version", "provisioned: device " + d.id} {
		if !strings.Contains(out, want) {
			t.Errorf("provision output lacks %q:\n%s", want, out)
		}
	}
	k, err := devkey.InDir(d.dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if list := l.admin(t, "device", "list", "--data", l.data); !regexp.MustCompile(regexp.QuoteMeta(d.id) + `\s+pos\s+CANTEEN-2\s+enrolled`).MatchString(list) {
		t.Fatalf("ledgerd device list does not show %s enrolled at CANTEEN-2:\n%s", d.id, list)
	}
	sell("after provisioning", "student")

	keyFile := filepath.Join(d.dir, "device.key")
	keyBytes, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	code, out = provision(tok)
	if code != 0 || !strings.Contains(out, "already enrolled") {
		t.Fatalf("re-run with the same values: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(keyFile); !bytes.Equal(b, keyBytes) {
		t.Fatal("the re-run rewrote the device key")
	}

	plain := token("token", "new", "--data", l.data, "--device", d.id, "--kind", "pos")
	code, out = provision(plain, "--force")
	if code != 1 || !strings.Contains(out, "refused the token") || !strings.Contains(out, "ledgerd device rekey "+d.id) {
		t.Fatalf("--force with a plain token: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(keyFile); !bytes.Equal(b, keyBytes) {
		t.Fatal("a refused --force replaced the device key")
	}

	rekey := token("device", "rekey", "--data", l.data, d.id)
	code, out = provision(rekey, "--force")
	if code != 0 {
		t.Fatalf("--force with a rekey token: exit %d\n%s", code, out)
	}
	k2, err := devkey.InDir(d.dir).Load()
	if err != nil || k2.Fingerprint() == k.Fingerprint() {
		t.Fatalf("the key after --force: %v (fingerprint unchanged: %v)", err, err == nil)
	}
	sell("after the rekey", "staff") // another card: the repeat guard remembers the first
}

// TestProvisionResumesAfterLostAnswer: the ledger takes the device key but
// its answer never reaches the device (the link drops after the request
// went through). The provisioning fails saying to run it again, keeps the
// key it offered as device.key.pending, and the same command (the same,
// now used, token) resumes with that key: the ledger answers it again and
// the device ends provisioned with the key the ledger holds.
func TestProvisionResumesAfterLostAnswer(t *testing.T) {
	l := startLedgerd(t)
	upstream, err := url.Parse(l.url)
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Int32
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, upstream.JoinPath(r.URL.Path).String(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.HasSuffix(r.URL.Path, "/enrol") {
			lost.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the ledger answered; the device never hears it
			}
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	defer drop.Close()

	d := newDevice(t, l, "200ms")
	cfg, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte(`kind = "pos"`), []byte("kind = \"pos\"\nsite = \"CANTEEN-3\""), 1)
	dropCfg := filepath.Join(t.TempDir(), "drop.toml")
	if err := os.WriteFile(dropCfg, bytes.Replace(cfg, []byte(l.url), []byte(drop.URL+"/"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(l.admin(t, "token", "new", "--data", l.data, "--device", d.id, "--kind", "pos"))
	run := func(ledger, config string) (int, string) {
		p := startYktd(t, "provision", "--ledger", ledger, "--ledger-key", l.fingerprint, "--token", tok,
			"--site", "CANTEEN-3", "--kind", "pos", "--config", config)
		code := p.exit(t)
		return code, p.stdout.String() + p.stderr.String()
	}

	code, out := run(drop.URL+"/", dropCfg)
	if code != 1 || lost.Load() == 0 || !strings.Contains(out, "run the same command again") {
		t.Fatalf("the lost answer: exit %d, %d enrolments dropped\n%s", code, lost.Load(), out)
	}
	pendingPath := filepath.Join(d.dir, "device.key.pending")
	b, err := os.ReadFile(pendingPath)
	if err != nil {
		t.Fatalf("the offered key was not kept: %v", err)
	}
	if st, _ := os.Stat(pendingPath); st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %o, want 600", pendingPath, st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(d.dir, "device.key")); !os.IsNotExist(err) {
		t.Fatalf("device.key exists before the ledger's answer arrived: %v", err)
	}
	offered, err := devkey.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.admin(t, "device", "list", "--data", l.data), d.id) {
		t.Fatalf("the ledger did not take the enrolment whose answer was lost")
	}

	code, out = run(l.url, d.config)
	if code != 0 || !strings.Contains(out, "resuming with "+offered.Fingerprint()) {
		t.Fatalf("the resumed provisioning: exit %d\n%s", code, out)
	}
	k, err := devkey.InDir(d.dir).Load()
	if err != nil || k.Fingerprint() != offered.Fingerprint() {
		t.Fatalf("device.key after the resume: %v, want the offered key %s", err, offered.Fingerprint())
	}
	if _, err := os.Stat(pendingPath); !os.IsNotExist(err) {
		t.Errorf("the pending key stayed after the resume: %v", err)
	}
	var devs []struct {
		ID        string `json:"id"`
		PublicKey []byte `json:"public_key"`
	}
	if err := json.Unmarshal([]byte(l.admin(t, "device", "list", "--data", l.data, "--json")), &devs); err != nil {
		t.Fatal(err)
	}
	for _, dv := range devs {
		if dv.ID == d.id && protocol.Fingerprint(dv.PublicKey) != k.Fingerprint() {
			t.Fatalf("the ledger holds %s, the device %s", protocol.Fingerprint(dv.PublicKey), k.Fingerprint())
		}
	}
}
