package config

import "time"

// Sync says how the terminal reaches the ledger.
type Sync struct {
	// Ledger is the ledger's base URL, e.g. "https://ledger.campus.example/";
	// empty: no sync (the journal waits for a USB export).
	Ledger string `toml:"ledger"`
	// CAFile pins the ledger's CA (PEM); required for https.
	CAFile string `toml:"ca_file"`
	// CertFile and KeyFile are a TLS client certificate, where the campus uses one.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Proxy is an HTTP proxy URL; empty uses none (not the environment: a
	// terminal's route is configured, not inherited).
	Proxy string `toml:"proxy"`
	// Interval between sync rounds when there is nothing to send.
	Interval Duration `toml:"interval"`
	// BatchSize is the number of journal records per signed batch.
	BatchSize int `toml:"batch_size"`
	// MaxBackoff caps the wait between failed attempts.
	MaxBackoff Duration `toml:"max_backoff"`
}

func (s *Sync) defaults() {
	if s.Interval == 0 {
		s.Interval = Duration(30 * time.Second)
	}
	if s.BatchSize == 0 {
		s.BatchSize = 500
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = Duration(10 * time.Minute)
	}
}

func (s *Sync) validate() error {
	if s.BatchSize < 1 || s.BatchSize > 10000 {
		return invalid("sync.batch_size %d: want 1..10000", s.BatchSize)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return invalid("sync.cert_file and sync.key_file go together")
	}
	return nil
}
