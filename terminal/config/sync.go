package config

import (
	"net/url"
	"time"

	"github.com/openykt/yktd/protocol"
)

// Sync says how the terminal reaches the ledger.
type Sync struct {
	// Ledger is the ledger's base URL, e.g. "https://ledger.campus.example/";
	// empty: no sync (the journal waits for a USB export).
	Ledger string `toml:"ledger"`
	// CAFile pins the ledger's CA (PEM); required for https.
	CAFile string `toml:"ca_file"`
	// ServerName is the name checked in the ledger's certificate when it
	// is not the host of Ledger (a ledger reached by IP address).
	ServerName string `toml:"server_name"`
	// CertFile and KeyFile are a TLS client certificate, where the campus uses one.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Proxy is an HTTP proxy URL; empty uses none (not the environment: a
	// terminal's route is configured, not inherited).
	Proxy string `toml:"proxy"`
	// Interval between sync rounds when there is nothing to send.
	Interval Duration `toml:"interval"`
	// BatchSize is the number of journal records per signed batch
	// (1..protocol.MaxBatchRecords).
	BatchSize int `toml:"batch_size"`
	// MinBackoff is the first wait after a failed attempt; it doubles per
	// failure (with jitter) up to MaxBackoff.
	MinBackoff Duration `toml:"min_backoff"`
	// MaxBackoff caps the wait between failed attempts.
	MaxBackoff Duration `toml:"max_backoff"`
	// Timeout bounds one request to the ledger, answer included.
	Timeout Duration `toml:"timeout"`
	// LedgerKey pins the ledger's signing key for enrolment: its
	// fingerprint as `ledgerd keys` prints it ("sha256:" and 64 lowercase
	// hex digits, protocol.Fingerprint). Enrolment refuses an answer
	// signed by any other key, and without LedgerKey it refuses to enrol
	// at all unless Insecure is set.
	LedgerKey string `toml:"ledger_key"`
	// Insecure allows what only a loopback or test ledger should get: a
	// plain http:// ledger, and enrolment that trusts the key the ledger
	// announces when LedgerKey is empty.
	Insecure bool `toml:"insecure"`
	// MaxOffline is how long the terminal may go without a successful
	// exchange with the ledger before it stops taking money (gates keep
	// working on their last list); default 7 days.
	MaxOffline Duration `toml:"max_offline"`
}

func (s *Sync) defaults() {
	if s.Interval == 0 {
		s.Interval = Duration(30 * time.Second)
	}
	if s.BatchSize == 0 {
		s.BatchSize = 500
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = Duration(time.Second)
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = Duration(10 * time.Minute)
	}
	if s.Timeout == 0 {
		s.Timeout = Duration(60 * time.Second)
	}
	if s.MaxOffline == 0 {
		s.MaxOffline = Duration(DefaultMaxOffline)
	}
}

// DefaultMaxOffline is sync.max_offline when the configuration leaves it
// out: a week without the ledger, then no more sales.
const DefaultMaxOffline = 7 * 24 * time.Hour

func (s *Sync) validate() error {
	if s.BatchSize < 1 || s.BatchSize > protocol.MaxBatchRecords {
		return invalid("sync.batch_size %d: want 1..%d", s.BatchSize, protocol.MaxBatchRecords)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return invalid("sync.cert_file and sync.key_file go together")
	}
	if s.Interval < 0 || s.MinBackoff < 0 || s.Timeout < 0 || s.MinBackoff > s.MaxBackoff {
		return invalid("sync: interval, min_backoff and timeout must be positive, min_backoff at most max_backoff")
	}
	if s.Ledger != "" {
		u, err := url.Parse(s.Ledger)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("sync.ledger %q: want http(s)://host/", s.Ledger)
		}
		if u.Scheme == "https" && s.CAFile == "" {
			return invalid("sync.ledger is https: sync.ca_file (the pinned CA) is required")
		}
		if u.Scheme == "http" && (s.CAFile != "" || s.CertFile != "") {
			// A CA or client certificate says TLS was meant: refuse rather
			// than sync in plaintext.
			return invalid("sync.ledger %q is plain http but a CA or client certificate is configured: use https://", s.Ledger)
		}
		if u.Scheme == "http" && !s.Insecure {
			return invalid("sync.ledger %q is plain http: the journal and the status lists would cross the network unprotected; use https:// with sync.ca_file, or set sync.insecure = true for a loopback or test ledger", s.Ledger)
		}
	}
	if s.LedgerKey != "" && !protocol.ValidFingerprint(s.LedgerKey) {
		return invalid("sync.ledger_key %q: want the ledger key's fingerprint as `ledgerd keys` prints it (sha256: and 64 lowercase hex digits)", s.LedgerKey)
	}
	if s.Proxy != "" {
		u, err := url.Parse(s.Proxy)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return invalid("sync.proxy %q: want http://host:port", s.Proxy)
		}
	}
	return nil
}
