package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ControlClient calls a running daemon's control interface as its owner:
// with the device credential on loopback TCP, or over the unix socket. The
// rig, tests and tools use it instead of talking HTTP themselves.
type ControlClient struct {
	base  string
	token string
	hc    *http.Client
}

// NewControlClient returns a client of the control interface at addr (what
// Daemon.ControlAddr returns and `yktd run --sim` writes to control.addr):
// "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT", or a unix socket as
// "unix:/path" or "/path". On TCP it reads the credential the daemon wrote
// to dataDir/control.token (ControlTokenName) when it started.
func NewControlClient(dataDir, addr string) (*ControlClient, error) {
	addr = strings.TrimSpace(addr)
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	c := &ControlClient{hc: &http.Client{Transport: tr, Timeout: 40 * time.Second}}
	path, unix := strings.CutPrefix(addr, "unix:")
	if unix || filepath.IsAbs(addr) {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		c.base = "http://localhost"
		return c, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("terminal: control client: address %q: %w", addr, err)
	}
	b, err := os.ReadFile(filepath.Join(dataDir, ControlTokenName))
	if err != nil {
		return nil, fmt.Errorf("terminal: control client: credential: %w", err)
	}
	c.token = strings.TrimSpace(string(b))
	c.base = "http://" + addr
	return c, nil
}

// ControlError is an answer of the control interface other than 200 OK.
type ControlError struct {
	Method, Path string
	Status       int    // the HTTP status
	Code         string // the stable code of the refusal (CtlBadHost ...; the cashier's codes)
	Message      string
	Body         []byte // the whole answer
}

func (e *ControlError) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = strings.TrimSpace(string(e.Body))
	}
	return fmt.Sprintf("terminal: control: %s %s: %d %s: %s %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Code, msg)
}

// URL returns the full URL of path on the interface.
func (c *ControlClient) URL(path string) string { return c.base + path }

// Do sends req with the credential. req's URL should come from URL.
func (c *ControlClient) Do(req *http.Request) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.hc.Do(req)
}

// call sends a request with an optional JSON body and decodes a 200
// answer into out (unless nil); any other status is a *ControlError.
func (c *ControlClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("terminal: control: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), rd)
	if err != nil {
		return fmt.Errorf("terminal: control: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("terminal: control: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("terminal: control: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &ControlError{Method: method, Path: path, Status: resp.StatusCode, Body: b}
		var v struct{ Code, Error string }
		if json.Unmarshal(b, &v) == nil {
			e.Code, e.Message = v.Code, v.Error
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("terminal: control: %s %s: answer: %w", method, path, err)
		}
	}
	return nil
}

// Get sends GET path and decodes the answer into out (unless nil).
func (c *ControlClient) Get(ctx context.Context, path string, out any) error {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// Post sends POST path with body as JSON (nil: no body) and decodes the
// answer into out (unless nil).
func (c *ControlClient) Post(ctx context.Context, path string, body, out any) error {
	return c.call(ctx, http.MethodPost, path, body, out)
}

// Delete sends DELETE path.
func (c *ControlClient) Delete(ctx context.Context, path string) error {
	return c.call(ctx, http.MethodDelete, path, nil, nil)
}

// Taps long-polls GET /v1/taps: the taps numbered above after, waiting up
// to wait for one.
func (c *ControlClient) Taps(ctx context.Context, after uint64, wait time.Duration) ([]TapRecord, error) {
	var out []TapRecord
	q := url.Values{"after": {fmt.Sprint(after)}, "wait": {wait.String()}}
	err := c.Get(ctx, "/v1/taps?"+q.Encode(), &out)
	return out, err
}

// CancelLast asks for the cashier's cancel of the last sale with the
// cashier's PIN. A refusal of the cashier (wrong PIN, locked, no cashier
// configured) comes back as the answer and a *ControlError; a sale that
// cannot be cancelled (none, too late, already) as the answer alone, with
// its Outcome "refused".
func (c *ControlClient) CancelLast(ctx context.Context, pin string) (CancelAnswer, error) {
	var out CancelAnswer
	err := c.Post(ctx, "/v1/cancel-last", map[string]string{"pin": pin}, &out)
	if e := (*ControlError)(nil); errors.As(err, &e) {
		_ = json.Unmarshal(e.Body, &out)
	}
	return out, err
}
