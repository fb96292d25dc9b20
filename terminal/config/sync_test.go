package config

import (
	"errors"
	"testing"
	"time"
)

func TestSyncSection(t *testing.T) {
	good := minimalGate + `
[sync]
ledger = "https://ledger.campus.example/"
ca_file = "/etc/yktd/ledger-ca.pem"
proxy = "http://10.0.0.1:3128"
batch_size = 1000
min_backoff = "2s"
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.MinBackoff.D() != 2*time.Second || c.Sync.MaxBackoff.D() != 10*time.Minute || c.Sync.Timeout.D() != time.Minute {
		t.Fatalf("sync durations: %+v", c.Sync)
	}
	for name, sync := range map[string]string{
		"https without CA":     "ledger = \"https://ledger.campus.example/\"\n",
		"ftp ledger":           "ledger = \"ftp://ledger\"\n",
		"socks proxy":          "proxy = \"socks5://10.0.0.1:1080\"\n",
		"batch over bound":     "batch_size = 1001\n",
		"min over max":         "min_backoff = \"20m\"\n",
		"cert without a key":   "cert_file = \"/etc/yktd/client.pem\"\n",
		"plain http with a CA": "ledger = \"http://ledger.campus.example/\"\nca_file = \"/etc/yktd/ledger-ca.pem\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(minimalGate + "\n[sync]\n" + sync))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
		})
	}
}
