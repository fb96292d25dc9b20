package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/openykt/yktd/internal/atomicfile"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
)

// configuration checks the flags and returns the device's configuration:
// the --config file, checked against the flags, or the kind's defaults
// (rendered: the bytes to write at path).
func (f *provisionFlags) configuration() (cfg *config.Config, path string, rendered []byte, err error) {
	switch {
	case f.ledger == "" || f.ledgerKey == "" || f.token == "" || f.site == "" || f.kind == "":
		return nil, "", nil, usageError("provision needs --ledger, --ledger-key, --token, --site and --kind")
	case f.kind != config.KindPOS && f.kind != config.KindGate && f.kind != config.KindKiosk && f.kind != config.KindDesk:
		return nil, "", nil, usageError("--kind %q: want pos, gate, kiosk or desk", f.kind)
	case !protocol.ValidFingerprint(f.ledgerKey):
		return nil, "", nil, usageError("--ledger-key %q: want the fingerprint `ledgerd keys` prints (sha256: and 64 lowercase hex digits)", f.ledgerKey)
	case !protocol.ValidDeviceID(f.site):
		return nil, "", nil, usageError("--site %q: want 1..64 of A-Z a-z 0-9 . _ : -", f.site)
	case f.device != "" && !protocol.ValidDeviceID(f.device):
		return nil, "", nil, usageError("--device %q: want 1..64 of A-Z a-z 0-9 . _ : -", f.device)
	case f.config == "" && f.device == "":
		return nil, "", nil, usageError("provision needs --device ID (the id the token was issued for) or --config FILE")
	}
	if f.ledger, err = ledgerURL(f.ledger); err != nil {
		return nil, "", nil, err
	}
	if f.softSAM != "" {
		if f.softSAM, err = filepath.Abs(f.softSAM); err != nil {
			return nil, "", nil, err
		}
	}
	if f.config != "" {
		cfg, err = f.checkConfig()
		return cfg, f.config, nil, err
	}
	dir := f.dir
	if dir == "" {
		dir = defaultDataDir
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, "", nil, err
	}
	if f.ca != "" {
		if f.ca, err = filepath.Abs(f.ca); err != nil {
			return nil, "", nil, err
		}
	}
	rendered, err = f.render(dir)
	if err != nil {
		return nil, "", nil, err
	}
	if cfg, err = config.Parse(rendered); err != nil {
		return nil, "", nil, usageError("the configuration for these flags: %v", err)
	}
	return cfg, filepath.Join(dir, configFileName), rendered, nil
}

// checkConfig loads --config and checks that it says what the flags say.
func (f *provisionFlags) checkConfig() (*config.Config, error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, usageError("--config: %v", err)
	}
	var bad []string
	want := func(key, got, flag, value string) {
		if got != value {
			bad = append(bad, fmt.Sprintf("%s is %q, %s %q", key, got, flag, value))
		}
	}
	if f.device != "" {
		want("device.id", cfg.Device.ID, "--device", f.device)
	}
	want("device.kind", cfg.Device.Kind, "--kind", f.kind)
	want("device.site", cfg.Device.Site, "--site", f.site)
	want("sync.ledger", strings.TrimRight(cfg.Sync.Ledger, "/")+"/", "--ledger", f.ledger)
	want("sync.ledger_key", cfg.Sync.LedgerKey, "--ledger-key", f.ledgerKey)
	if f.softSAM != "" {
		want("device.sam", cfg.Device.SAM, "--soft-sam", "soft:"+f.softSAM)
	}
	if len(bad) > 0 {
		return nil, usageError("--config %s does not say what the flags say: %s", f.config, strings.Join(bad, "; "))
	}
	if f.dir != "" { // the rig: `yktd run --sim --config FILE --dir DIR` has the store there
		dir, err := filepath.Abs(f.dir)
		if err != nil {
			return nil, err
		}
		cfg.Device.DataDir, cfg.Device.Store = dir, filepath.Join(dir, "yktd.db")
	}
	if cfg.Device.DataDir == "" {
		return nil, usageError("--config %s: provision needs device.data_dir (or --dir)", f.config)
	}
	if f.config, err = filepath.Abs(f.config); err != nil {
		return nil, err
	}
	return cfg, nil
}

// render writes the kind's default configuration: the device, the
// ledger, and placeholders for the readers and the board that the
// technician edits for the device's hardware.
func (f *provisionFlags) render(dir string) ([]byte, error) {
	q := func(s string) string { return strconv.Quote(s) }
	for _, s := range []string{dir, f.ca, f.softSAM} {
		if strings.ContainsAny(s, "\"\\\x00\n\r\t") {
			return nil, usageError("path %q: quotes, backslashes and control characters are not supported in a path", s)
		}
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# yktd device configuration, written by `yktd provision` (docs/provision.md).")
	w("# The readers and the board below are the kind's defaults: edit them for")
	w("# this device's hardware (docs/config.md), then `yktd run --config %s`.", filepath.Join(dir, configFileName))
	w("")
	w("[device]")
	w("id = %s", q(f.device))
	w("kind = %s", q(f.kind))
	w("site = %s", q(f.site))
	w("data_dir = %s", q(dir))
	money := f.kind == config.KindPOS || f.kind == config.KindKiosk || f.kind == config.KindDesk
	switch {
	case f.softSAM != "":
		w("sam = %s   # the software SAM of the TEST KEYS: rig only, never in the field", q("soft:"+f.softSAM))
	case money:
		w(`sam = "pcsc:SAM"             # the PC/SC slot holding the PSAM: name it precisely (docs/config.md)`)
	}
	w("")
	w("[[reader]]")
	w(`name = "card"`)
	w(`driver = "pcsc"`)
	w(`match = "ACR"                # PC/SC reader names containing this`)
	w("")
	w("[board]")
	w(`backend = "periph"`)
	switch f.kind {
	case config.KindGate:
		w("")
		w("[[board.relay]]")
		w(`name = "arm"`)
		w(`pin = "GPIO17"`)
		w("active_low = true")
		w(`safe = "off"`)
		w("")
		w("[gate]")
		w("door = %s   # this door's id in the ledger's access rules", q(f.site))
		w(`relay_in = "arm"`)
	case config.KindPOS:
		w("")
		w("[[board.indicator]]")
		w(`name = "buzzer"`)
		w(`pin = "GPIO18"`)
		w("")
		w("[pos]")
		w(`mode = "keyed"`)
		w("pin_limit_fen = 5000")
	case config.KindKiosk, config.KindDesk:
		w("")
		w("[kiosk]")
	}
	w("")
	w("[sync]")
	w("ledger = %s", q(f.ledger))
	w("ledger_key = %s", q(f.ledgerKey))
	switch {
	case f.ca != "":
		w("ca_file = %s", q(f.ca))
	case strings.HasPrefix(f.ledger, "https:"):
		return nil, usageError("--ledger %s is https: --ca FILE (the ledger's CA, pinned) is required", f.ledger)
	default:
		w("insecure = true              # an http ledger: loopback or test only")
	}
	return []byte(b.String()), nil
}

// configChanges names the keys of an existing configuration that differ
// from cfg.
func configChanges(old []byte, cfg *config.Config) string {
	o, err := config.Parse(old)
	if err != nil {
		return "it does not parse: " + err.Error()
	}
	var d []string
	cmp := func(key, a, b string) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %q, now %q", key, a, b))
		}
	}
	cmp("device.id", o.Device.ID, cfg.Device.ID)
	cmp("device.kind", o.Device.Kind, cfg.Device.Kind)
	cmp("device.site", o.Device.Site, cfg.Device.Site)
	cmp("device.sam", o.Device.SAM, cfg.Device.SAM)
	cmp("sync.ledger", o.Sync.Ledger, cfg.Sync.Ledger)
	cmp("sync.ledger_key", o.Sync.LedgerKey, cfg.Sync.LedgerKey)
	if len(d) == 0 {
		return "edited by hand"
	}
	return strings.Join(d, ", ")
}

// writeSoftSAM writes the software SAM's key file of the public TEST KEYS
// (sam.TestKeyFile), unless it is already there.
func (p *provisioner) writeSoftSAM() error {
	path := p.f.softSAM
	file := sam.TestKeyFileFor(p.cfg.Device.ID)
	fmt.Fprintln(p.out, "!!! --soft-sam: a SOFTWARE SAM with the public TEST KEYS, for the rig only.")
	fmt.Fprintln(p.out, "!!! NOT FOR THE FIELD: anyone can make cards and MACs these keys accept. A device that takes money needs its PSAM (device.sam = \"pcsc:...\").")
	if b, err := os.ReadFile(path); err == nil {
		if string(b) == string(file) {
			p.progress("software SAM: already provisioned, %s", path)
			return nil
		}
		return fmt.Errorf("%w: %s exists and is not the test key file: not replaced", errProvisionRefused, path)
	}
	if err := atomicfile.Write(path, file, 0o600); err != nil {
		return fmt.Errorf("software SAM: %w", err)
	}
	if _, err := sam.ReadKeyFile(path); err != nil {
		return fmt.Errorf("software SAM: %w", err)
	}
	p.progress("software SAM: TEST KEYS written to %s (0600) — rig only", path)
	return nil
}
