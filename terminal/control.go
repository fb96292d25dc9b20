package terminal

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TapRecord is one tap or credential as the control interface reports it:
// what the flow decided, for the rig and tests (the journal is the
// evidence; this is a convenience that lives in memory only).
type TapRecord struct {
	N         uint64    `json:"n"` // 1, 2, 3 ... since the daemon started
	Time      time.Time `json:"time"`
	Reader    string    `json:"reader"`
	Flow      string    `json:"flow"` // "pos" or "gate"
	Outcome   string    `json:"outcome"`
	Code      string    `json:"code"`
	Card      string    `json:"card,omitempty"`
	Amount    int64     `json:"amount,omitempty"`
	Balance   int64     `json:"balance,omitempty"`
	Intent    uint64    `json:"intent,omitempty"`
	Recovered bool      `json:"recovered,omitempty"`
	Direction string    `json:"direction,omitempty"`
	Seq       uint64    `json:"seq,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// outcomeLog keeps the last taps for the control interface.
type outcomeLog struct {
	mu      sync.Mutex
	n       uint64
	recent  []TapRecord
	changed chan struct{}
}

const outcomeLogSize = 256

func (l *outcomeLog) init() { l.changed = make(chan struct{}) }

func (l *outcomeLog) add(r TapRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	r.N = l.n
	l.recent = append(l.recent, r)
	if len(l.recent) > outcomeLogSize {
		l.recent = l.recent[len(l.recent)-outcomeLogSize:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// after returns the taps numbered above n and a channel closed on the next.
func (l *outcomeLog) after(n uint64) ([]TapRecord, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []TapRecord
	for _, r := range l.recent {
		if r.N > n {
			out = append(out, r)
		}
	}
	return out, l.changed
}

// Taps returns the taps numbered above n that the daemon still remembers.
func (d *Daemon) Taps(n uint64) []TapRecord {
	out, _ := d.outcomes.after(n)
	return out
}

// listenControl opens the control interface: loopback TCP or a unix socket
// only (it has no authentication; terminal/config refuses other addresses
// and so does this, in case a caller bypassed the config).
func (d *Daemon) listenControl(addr string) error {
	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		_ = os.Remove(path)
		ln, err = net.Listen("unix", path)
		if err == nil {
			err = os.Chmod(path, 0o600)
		}
	} else {
		var host string
		host, _, err = net.SplitHostPort(addr)
		if err == nil {
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Errorf("terminal: control interface %q: loopback only", addr)
			}
			ln, err = net.Listen("tcp", addr)
		}
	}
	if err != nil {
		return fmt.Errorf("terminal: control interface: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/taps", d.serveTaps)
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, d.Health())
	})
	mux.HandleFunc("POST /v1/inputs/{name}", d.serveInput)
	mux.HandleFunc("POST /v1/cancel-last", d.serveCancelLast)
	if d.deps.Control != nil {
		mux.Handle("/sim/", http.StripPrefix("/sim", d.deps.Control))
	}
	// Every request's context ends when the daemon stops, so that a long
	// poll on /v1/taps is answered at once instead of holding the shutdown.
	base, cancel := context.WithCancel(context.Background())
	d.ctlCancel = cancel
	d.ctl = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	d.ctlLn = ln
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// serveTaps answers GET /v1/taps?after=N[&wait=5s]: the taps numbered above
// N; with wait, it waits up to that long for one.
func (d *Daemon) serveTaps(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(wait, 30*time.Second)
	out, changed := d.outcomes.after(after)
	if len(out) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
		}
		out, _ = d.outcomes.after(after)
	}
	if out == nil {
		out = []TapRecord{}
	}
	writeJSON(w, http.StatusOK, out)
}

// InputSetter drives a simulated board input (boardtest.Fake implements it).
type InputSetter interface {
	SetInput(name string, active bool) error
}

// serveInput answers POST /v1/inputs/{name} {"active": true}: it drives a
// simulated board input. A real board's inputs cannot be driven.
func (d *Daemon) serveInput(w http.ResponseWriter, r *http.Request) {
	setter, ok := d.deps.Inputs.(InputSetter)
	if !ok || d.deps.Inputs == nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the board is real: its inputs cannot be driven"})
		return
	}
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err := setter.SetInput(r.PathValue("name"), body.Active); err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"input": r.PathValue("name"), "active": body.Active})
}

// serveCancelLast answers POST /v1/cancel-last: the cashier's cancel of the
// last sale.
func (d *Daemon) serveCancelLast(w http.ResponseWriter, r *http.Request) {
	if d.pos == nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "not a POS"})
		return
	}
	res, err := d.pos.CancelLast(r.Context())
	out := map[string]any{"outcome": res.Outcome.String(), "code": string(res.Code), "amount": res.Amount}
	if err != nil {
		out["error"] = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}
