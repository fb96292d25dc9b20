// Package syncclient is the terminal's side of the sync protocol
// (DESIGN.md 3.4): it enrols the device, uploads the journal in signed
// batches from the acknowledged cursor, and downloads the signed status
// list and rules, applying them only after the ledger's signature and the
// version check. It talks to the store through small interfaces (Journal,
// StatusSink, RulesSink) that offline.Store's SyncSource satisfies.
//
// Upload is at-least-once; the ledger makes it exactly-once. The cursor
// moves only on an acknowledgement signed by the pinned ledger key that
// names exactly the batch sent (device, batch number, last sequence and
// hash). Nothing the ledger says ever moves the cursor backwards.
package syncclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/openykt/yktd/protocol"
)

// Content types on the wire.
const (
	contentCOSE  = `application/cose; cose-type="cose-sign1"`
	contentError = "application/cbor"
)

// Options configure a Client. Fields without a comment on defaults are
// required.
type Options struct {
	// Ledger is the ledger's base URL, e.g. "https://ledger.campus.example/".
	Ledger string
	// DeviceID names this device (kid of its messages, external AAD).
	DeviceID string
	// Signer is the device key.
	Signer *protocol.Signer
	// LedgerKeys are the ledger's keys pinned at enrolment; nil until
	// Enrol has run (Enrol returns the key for the caller to keep).
	LedgerKeys protocol.KeySet
	// LedgerFingerprint is the ledger key's fingerprint
	// (protocol.Fingerprint) that Enrol must find in the answer; "" pins
	// none. RequireLedgerPin makes Enrol refuse to run without one (a
	// device in the field); without it, an empty fingerprint trusts the key
	// the ledger announces on first use (a loopback test ledger).
	LedgerFingerprint string
	RequireLedgerPin  bool
	// HTTP is the client from NewHTTPClient (pinned CA, proxy, timeouts);
	// default: NewHTTPClient(Ledger, TransportOptions{}), which works
	// only for an http ledger.
	HTTP *http.Client
	// BatchSize is the number of records per batch (default 500, at most
	// protocol.MaxBatchRecords); a batch is cut smaller when its encoding
	// would pass protocol.MaxBatchSize.
	BatchSize int
	// BackoffBase and BackoffMax bound the wait after a failed attempt:
	// it starts at BackoffBase (default 1s), doubles, is capped at
	// BackoffMax (default 10 min) and jittered.
	BackoffBase, BackoffMax time.Duration
	// Interval is the wait between rounds when there is nothing to do
	// (default 30s).
	Interval time.Duration
	// Clock is the time source (default SystemClock).
	Clock Clock
	// Logger receives what a technician reads (default slog.Default()).
	Logger *slog.Logger
	// Kind and Firmware describe the device to the ledger at enrolment,
	// and TerminalID the terminal id of its PSAM (protocol.TerminalIDSize
	// bytes; nil: none, a gate), which the ledger binds to it, and Site
	// where it is installed (device.site), which it binds too.
	Kind       protocol.DeviceKind
	Firmware   string
	TerminalID []byte
	Site       string
	// Journal, Status and Rules are the store; Status and Rules may be nil
	// (that download is then skipped).
	Journal Journal
	Status  StatusSink
	Rules   RulesSink
	// State keeps the device's standing with the ledger (last contact,
	// revocation); default: Journal, when it is a StateSink; nil keeps
	// nothing.
	State StateSink
}

// Client syncs one device with the ledger. Its methods are not meant to be
// called concurrently (Run calls them in turn).
type Client struct {
	o     Options
	base  *url.URL
	log   *slog.Logger
	boff  *backoff
	bytes int // max batch encoding

	mu       sync.Mutex
	halted   error     // set when an upload FatalError halted uploading
	standing standing  // the device's standing as the ledger last answered
	held     holdState // the ledger's hold (PSAM binding) as last answered
	contact  time.Time // when a contact was last written to State

	// skew is the device clock minus the ledger's at skewAt, the last
	// acknowledged upload (skewAt zero: none yet).
	skew   time.Duration
	skewAt time.Time
}

// ClockSkew returns the device clock minus the ledger's as measured at the
// last acknowledged upload (the ack's server time, so it includes the
// ledger's processing time: milliseconds on a campus network), when it was
// measured, and false before the first. Safe for concurrent use.
func (c *Client) ClockSkew() (skew time.Duration, at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skew, c.skewAt, !c.skewAt.IsZero()
}

func (c *Client) noteSkew(now, server time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew, c.skewAt = now.Sub(server), now
	return c.skew
}

// standing is the device's standing with the ledger as this client knows it.
type standing int

const (
	standingUnknown standing = iota // nothing answered yet in this process
	standingActive                  // the ledger served the device
	standingRevoked                 // the ledger answered revoked
)

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	if !protocol.ValidDeviceID(opts.DeviceID) {
		return nil, fmt.Errorf("syncclient: invalid device id %q", opts.DeviceID)
	}
	if opts.Signer == nil {
		return nil, errors.New("syncclient: no signer")
	}
	if opts.TerminalID != nil && len(opts.TerminalID) != protocol.TerminalIDSize {
		return nil, fmt.Errorf("syncclient: terminal id of %d bytes, want %d", len(opts.TerminalID), protocol.TerminalIDSize)
	}
	if opts.LedgerFingerprint != "" && !protocol.ValidFingerprint(opts.LedgerFingerprint) {
		return nil, fmt.Errorf("syncclient: ledger key fingerprint %q: want sha256: and 64 lowercase hex digits", opts.LedgerFingerprint)
	}
	base, err := url.Parse(opts.Ledger)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("syncclient: ledger url %q: want http(s)://host/", opts.Ledger)
	}
	if opts.HTTP == nil {
		if opts.HTTP, err = NewHTTPClient(opts.Ledger, TransportOptions{}); err != nil {
			return nil, err
		}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	opts.BatchSize = min(opts.BatchSize, protocol.MaxBatchRecords)
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = time.Second
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 10 * time.Minute
	}
	opts.BackoffMax = max(opts.BackoffMax, opts.BackoffBase)
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.State == nil {
		if s, ok := opts.Journal.(StateSink); ok {
			opts.State = s
		}
	}
	c := &Client{o: opts, base: base, log: opts.Logger.With("device", opts.DeviceID, "ledger", base.Redacted()),
		boff: newBackoff(opts.BackoffBase, opts.BackoffMax), bytes: protocol.MaxBatchSize - 4096}
	return c, nil
}

// LedgerKeys returns the ledger keys the client verifies with (nil before
// enrolment).
func (c *Client) LedgerKeys() protocol.KeySet { return c.o.LedgerKeys }

// seal signs m with the device key for this device.
func (c *Client) seal(m protocol.Message) ([]byte, error) {
	return protocol.Seal(c.o.Signer, m, c.o.DeviceID)
}

// answer is a ledger's HTTP answer.
type answer struct {
	status int
	body   []byte
}

// retryError marks failures of the exchange itself (network, 5xx, rate
// limiting, unusable or unverifiable answers), as opposed to the ledger's
// deliberate refusals.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var r *retryError
	return errors.As(err, &r)
}

// post sends body to path and returns a 200 or 204 answer whose body is at
// most limit bytes. A 4xx/5xx with an Error body becomes that
// *protocol.Error (wrapped); anything else unusable wraps ErrResponse.
func (c *Client) post(ctx context.Context, path string, body []byte, limit int) (answer, error) {
	u := c.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return answer{}, fmt.Errorf("syncclient: %s: %w", path, err)
	}
	req.Header.Set("Content-Type", contentCOSE)
	req.Header.Set("Accept", contentCOSE)
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return answer{}, &retryError{fmt.Errorf("syncclient: %s: %w", path, err)}
	}
	defer resp.Body.Close()
	max := limit
	if resp.StatusCode >= 400 {
		max = protocol.MaxErrorSize
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return answer{}, &retryError{fmt.Errorf("syncclient: %s: reading answer: %w: %w", path, ErrResponse, err)}
	}
	if len(b) > max {
		return answer{}, &retryError{fmt.Errorf("syncclient: %s: answer over %d bytes: %w: %w", path, max, ErrResponse, protocol.ErrTooLarge)}
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return answer{status: resp.StatusCode}, nil
	case resp.StatusCode == http.StatusOK:
		if ct != "application/cose" {
			return answer{}, &retryError{fmt.Errorf("syncclient: %s: content type %q: %w", path, ct, ErrResponse)}
		}
		return answer{status: resp.StatusCode, body: b}, nil
	case resp.StatusCode >= 400 && ct == contentError:
		pe, derr := protocol.DecodeError(b)
		if derr != nil {
			return answer{}, &retryError{fmt.Errorf("syncclient: %s: HTTP %d, undecodable error body: %w: %w", path, resp.StatusCode, ErrResponse, derr)}
		}
		err := fmt.Errorf("syncclient: %s: HTTP %d: %w", path, resp.StatusCode, pe)
		switch pe.Code {
		case protocol.CodeInternal, protocol.CodeRateLimited:
			return answer{}, &retryError{err}
		}
		return answer{status: resp.StatusCode}, err
	}
	return answer{}, &retryError{fmt.Errorf("syncclient: %s: HTTP %d (%s): %w", path, resp.StatusCode, strings.TrimSpace(ct), ErrResponse)}
}
