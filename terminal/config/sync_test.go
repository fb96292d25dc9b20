package config

import (
	"errors"
	"strings"
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
		"https without CA":                "ledger = \"https://ledger.campus.example/\"\n",
		"ftp ledger":                      "ledger = \"ftp://ledger\"\n",
		"socks proxy":                     "proxy = \"socks5://10.0.0.1:1080\"\n",
		"batch over bound":                "batch_size = 1001\n",
		"min over max":                    "min_backoff = \"20m\"\n",
		"cert without a key":              "cert_file = \"/etc/yktd/client.pem\"\n",
		"plain http with a CA":            "ledger = \"http://ledger.campus.example/\"\nca_file = \"/etc/yktd/ledger-ca.pem\"\n",
		"plain http, not marked insecure": "ledger = \"http://ledger.campus.example/\"\n",
		"ledger key not a fingerprint":    "ledger_key = \"ed25519:abc\"\n",
		"ledger key in upper case":        "ledger_key = \"sha256:" + strings.Repeat("AB", 32) + "\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(minimalGate + "\n[sync]\n" + sync))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestSyncPinsAndLimits: the ledger key fingerprint pinned for enrolment,
// the insecure switch a plain http ledger needs, and the offline limit
// (7 days unless set).
func TestSyncPinsAndLimits(t *testing.T) {
	fp := "sha256:" + strings.Repeat("0f", 32)
	c, err := Parse([]byte(minimalGate + "\n[sync]\nledger = \"https://ledger.campus.example/\"\nca_file = \"/etc/yktd/ca.pem\"\nledger_key = \"" + fp + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.LedgerKey != fp || c.Sync.Insecure || c.Sync.MaxOffline.D() != 7*24*time.Hour {
		t.Fatalf("sync = %+v", c.Sync)
	}
	c, err = Parse([]byte(minimalGate + "\n[sync]\nledger = \"http://127.0.0.1:8470/\"\ninsecure = true\nmax_offline = \"72h\"\n"))
	if err != nil {
		t.Fatalf("plain http marked insecure: %v", err)
	}
	if !c.Sync.Insecure || c.Sync.MaxOffline.D() != 72*time.Hour {
		t.Fatalf("sync = %+v", c.Sync)
	}
}
