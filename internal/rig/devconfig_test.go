package rig

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
)

// TestRigKioskConfig: a kiosk's configuration as the runner writes it: on
// a vcard reader it gets the software SAM (whose test key file holds the
// system-PIN master key a load needs), a short kiosk.ledger_timeout unless
// the scenario sets one, and the daemon's parser accepts it.
func TestRigKioskConfig(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "..", "cmd", "yktd", "simconfig", "kiosk.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dc := devConfig{id: "RIG-KIOSK", ledgerURL: "http://127.0.0.1:1/", vcard: true, dataDir: t.TempDir(),
		softSAM: "/tmp/rig/sam-keys.json", vpcdReader: vpcdReader}
	for _, tc := range []struct {
		overlay map[string]any
		timeout time.Duration
	}{
		{nil, 3 * time.Second},
		{map[string]any{"kiosk": map[string]any{"ledger_timeout": "1s"}}, time.Second},
	} {
		b, err := buildConfig(base, tc.overlay, dc)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		// Written out, not left to the daemon's default (which may change).
		var m map[string]map[string]any
		if _, err := toml.Decode(string(b), &m); err != nil || m["kiosk"]["ledger_timeout"] != tc.timeout.String() {
			t.Errorf("overlay %v: the file's kiosk.ledger_timeout is %v (%v), want %s", tc.overlay, m["kiosk"]["ledger_timeout"], err, tc.timeout)
		}
		if cfg.Device.Kind != config.KindKiosk || cfg.Device.SAM != "soft:/tmp/rig/sam-keys.json" || cfg.Kiosk.LedgerTimeout.D() != tc.timeout {
			t.Errorf("overlay %v: kind %s, sam %q, kiosk.ledger_timeout %s, want %s", tc.overlay, cfg.Device.Kind, cfg.Device.SAM,
				cfg.Kiosk.LedgerTimeout.D(), tc.timeout)
		}
	}
	for v, k := range sam.TestKeys().Keys {
		if len(k.SystemPIN) != 16 {
			t.Errorf("the test key file's key version %d has no system-PIN master key: a kiosk on it could not open a load", v)
		}
	}
}
