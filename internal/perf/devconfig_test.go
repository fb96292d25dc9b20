package perf

import (
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/config"
)

// The demo canteen of `yktd run --sim --kind pos --print-config`, as far
// as the perf device keeps it.
const demoBase = `
[device]
id = "SIM-CANTEEN-01"
kind = "pos"
data_dir = "."
timezone = "Asia/Shanghai"
log_format = "text"

[[reader]]
name = "sim:canteen-1"
driver = "sim"

[board]
backend = "fake"

[pos]
mode = "fixed"
price_fen = 1250
pin_limit_fen = 5000
repeat_guard = "3s"

[control]
listen = "127.0.0.1:0"
`

func TestDeviceConfig(t *testing.T) {
	spec := DeviceSpec{ID: "PERF-POS-1M", Dir: "/tmp/perf/dev", SAMKeys: "/tmp/perf/dev/sam-keys.json",
		LedgerURL: "http://127.0.0.1:4000/", LedgerKey: "sha256:" + strings.Repeat("ab", 32)}
	b, err := DeviceConfig([]byte(demoBase), spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.ID != spec.ID || c.Device.Store != "/tmp/perf/dev/yktd.db" || c.Device.SAM != "soft:"+spec.SAMKeys || c.Device.Kind != "pos" {
		t.Errorf("device %+v", c.Device)
	}
	if len(c.Readers) != 1 || c.Readers[0].Driver != "pcsc" || c.Readers[0].Match != "" {
		t.Errorf("readers %+v: want one pcsc reader watching every slot, the simulator's gone", c.Readers)
	}
	if c.Sync.Ledger != spec.LedgerURL || !c.Sync.Insecure || c.Sync.LedgerKey != spec.LedgerKey {
		t.Errorf("sync %+v", c.Sync)
	}
	if c.POS.PriceFen != 1250 || c.POS.RepeatGuard.D() != time.Millisecond {
		t.Errorf("pos %+v", c.POS)
	}
	if _, err := DeviceConfig([]byte("[device\n"), spec); err == nil {
		t.Error("a broken base configuration was taken")
	}
	spec.LedgerURL = "ftp://nowhere"
	if _, err := DeviceConfig([]byte(demoBase), spec); err == nil {
		t.Error("a configuration the daemon refuses was returned")
	}
}
