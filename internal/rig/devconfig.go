package rig

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/openykt/yktd/terminal/config"
)

// baseConfigs caches the demo configuration of each kind, as the yktd
// binary under test prints it (yktd run --sim --kind K --print-config).
type baseConfigs struct {
	bin string
	mu  sync.Mutex
	got map[string][]byte
}

func (b *baseConfigs) get(ctx context.Context, kind string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.got[kind]; ok {
		return c, nil
	}
	out, errOut, code, err := runCmd(ctx, cmdLimit, b.bin, "run", "--sim", "--kind", kind, "--print-config")
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errOut))
	}
	if err != nil {
		return nil, fmt.Errorf("rig: %s run --sim --kind %s --print-config: %w", b.bin, kind, err)
	}
	if b.got == nil {
		b.got = map[string][]byte{}
	}
	b.got[kind] = []byte(out)
	return b.got[kind], nil
}

// devConfig is what the runner forces into a device's configuration.
type devConfig struct {
	id         string
	ledgerURL  string // "" for none
	ledgerKey  string // fingerprint, for sync.ledger_key
	vcard      bool   // a PC/SC reader on vpcd instead of the simulator's
	dataDir    string
	softSAM    string // the key file of the software SAM (vcard devices)
	vpcdReader string
}

// buildConfig merges the scenario's overlay over base (a demo
// configuration) and the runner's settings over both, then checks the
// result the way the daemon will (config.Parse).
func buildConfig(base []byte, overlay map[string]any, dc devConfig) ([]byte, error) {
	var m map[string]any
	if _, err := toml.Decode(string(base), &m); err != nil {
		return nil, fmt.Errorf("rig: base configuration: %w", err)
	}
	merge(m, overlay)
	set := func(section, key string, v any, force bool) {
		s, ok := m[section].(map[string]any)
		if !ok {
			s = map[string]any{}
			m[section] = s
		}
		if _, has := s[key]; force || !has {
			s[key] = v
		}
	}
	set("device", "id", dc.id, true)
	set("control", "listen", "127.0.0.1:0", true)
	if dc.ledgerURL != "" {
		set("sync", "ledger", dc.ledgerURL, true)
		// Quick rounds and short timeouts: a scenario waits seconds, not
		// the field's minutes.
		set("sync", "interval", "500ms", false)
		set("sync", "min_backoff", "100ms", false)
		set("sync", "max_backoff", "1s", false)
		set("sync", "timeout", "3s", false)
		set("sync", "insecure", true, false) // the rig's ledger is plain http on loopback
		if dc.ledgerKey != "" {
			set("sync", "ledger_key", dc.ledgerKey, false)
		}
	} else if s, ok := m["sync"].(map[string]any); ok {
		delete(s, "ledger")
	}
	if dc.vcard {
		m["reader"] = []map[string]any{{"name": "vpcd", "driver": "pcsc", "match": dc.vpcdReader}}
		set("device", "data_dir", dc.dataDir, true)
		set("device", "store", dc.dataDir+"/yktd.db", true)
		set("device", "log_format", "text", true)
		// A POS signs its sales with the SAM; a kiosk also derives the
		// card's system PIN with it (the test key file holds the
		// system-PIN master key).
		if k := m["device"].(map[string]any)["kind"]; k == KindPOS || k == KindKiosk {
			set("device", "sam", "soft:"+dc.softSAM, true)
		}
	}
	if m["device"].(map[string]any)["kind"] == KindKiosk && dc.ledgerURL != "" {
		// A card waits in the kiosk's reader while it asks the ledger:
		// as short as the sync's timeout, unless the scenario says.
		set("kiosk", "ledger_timeout", "3s", false)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return nil, fmt.Errorf("rig: device configuration: %w", err)
	}
	if _, err := config.Parse(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("rig: device configuration (the demo's, the scenario's config and the runner's): %w", err)
	}
	return buf.Bytes(), nil
}

// merge sets every key of over into m, recursing into tables; an array
// or a value replaces what was there.
func merge(m, over map[string]any) {
	for k, v := range over {
		if sub, ok := v.(map[string]any); ok {
			if cur, ok := m[k].(map[string]any); ok {
				merge(cur, sub)
				continue
			}
			cp := map[string]any{}
			merge(cp, sub)
			m[k] = cp
			continue
		}
		m[k] = v
	}
}
