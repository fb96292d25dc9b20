package perf

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/BurntSushi/toml"
	"github.com/openykt/yktd/terminal/config"
)

// VPCDMatch is the name prefix of both of vpcd's slots ("Virtual PCD 00
// 00" and "... 00 01"), for reader/pcsc's Reader in the probe.
const VPCDMatch = "Virtual PCD 00 0"

// DeviceSpec is what a perf device's configuration sets over the demo's.
type DeviceSpec struct {
	ID        string
	Dir       string // device.data_dir; the store is Dir/yktd.db
	SAMKeys   string // the software SAM's key file
	LedgerURL string // http://127.0.0.1:PORT/
	LedgerKey string // the ledger key's fingerprint (sync.ledger_key)
}

// Store is the path of the device's store.
func (s DeviceSpec) Store() string { return filepath.Join(s.Dir, "yktd.db") }

// DeviceConfig returns the configuration of a POS device: base (the
// demo's canteen, `yktd run --sim --kind pos --print-config`: fixed price
// 12.50, the cashier PIN) with one PC/SC reader without a match (one
// pcscd session watching every reader: vpcd's two slots, which the run's
// taps alternate between, as pcscd polls a vpcd slot only every 400 ms), the
// software SAM, the control interface on loopback, a real ledger over
// plain HTTP with its key pinned, and the repeat guard at 1 ms (the run's
// two cards tap again within a second). The sync settings are the
// field's defaults. The result is checked with the daemon's parser.
func DeviceConfig(base []byte, s DeviceSpec) ([]byte, error) {
	var m map[string]any
	if _, err := toml.Decode(string(base), &m); err != nil {
		return nil, fmt.Errorf("perf: base configuration: %w", err)
	}
	table := func(name string) map[string]any {
		t, ok := m[name].(map[string]any)
		if !ok {
			t = map[string]any{}
			m[name] = t
		}
		return t
	}
	dev := table("device")
	dev["id"], dev["data_dir"], dev["store"] = s.ID, s.Dir, s.Store()
	dev["sam"], dev["log_format"], dev["log_level"] = "soft:"+s.SAMKeys, "text", "info"
	m["reader"] = []map[string]any{{"name": "vpcd", "driver": "pcsc"}}
	table("control")["listen"] = "127.0.0.1:0"
	sync := table("sync")
	sync["ledger"], sync["insecure"], sync["ledger_key"] = s.LedgerURL, true, s.LedgerKey
	table("pos")["repeat_guard"] = "1ms"
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return nil, fmt.Errorf("perf: device configuration: %w", err)
	}
	if _, err := config.Parse(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("perf: device configuration: %w", err)
	}
	return buf.Bytes(), nil
}
