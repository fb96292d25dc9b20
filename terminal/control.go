package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openykt/yktd/terminal/pos"
)

// TapRecord is one tap or credential as the control interface reports it:
// what the flow decided, for the rig and tests (the journal is the
// evidence; this is a convenience that lives in memory only).
type TapRecord struct {
	N       uint64    `json:"n"` // 1, 2, 3 ... since the daemon started
	Time    time.Time `json:"time"`
	Reader  string    `json:"reader"`
	Flow    string    `json:"flow"`              // "pos", "gate" or "kiosk"
	Service string    `json:"service,omitempty"` // kiosk: "open", "claim" or "transfer"
	// API: a kiosk session's step asked through the control interface
	// (not a card placed on the reader).
	API       bool   `json:"api,omitempty"`
	Outcome   string `json:"outcome"`
	Code      string `json:"code"`
	Card      string `json:"card,omitempty"`
	Amount    int64  `json:"amount,omitempty"`
	Balance   int64  `json:"balance,omitempty"`
	Intent    uint64 `json:"intent,omitempty"`
	Recovered bool   `json:"recovered,omitempty"`
	Load      string `json:"load,omitempty"` // kiosk: the ledger's load id
	Direction string `json:"direction,omitempty"`
	Seq       uint64 `json:"seq,omitempty"`
	Error     string `json:"error,omitempty"`
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

// controlRoute is one endpoint of the control interface. The mux is built
// from these and GET / lists them, so the list cannot drift.
type controlRoute struct {
	method string // "" = any method
	path   string // an http.ServeMux path; "/{$}" is "/" alone
	access access
	doc    string
	h      http.Handler
}

// controlRoutes are the control interface's endpoints (docs/control.md).
func (d *Daemon) controlRoutes() []controlRoute {
	routes := []controlRoute{
		{"GET", "/{$}", accessOpen, "this list of endpoints", http.HandlerFunc(d.serveIndex)},
		{"GET", "/v1/health", accessOpen, "the device's id, kind, money holds, status list and ledger contact (no card numbers)", http.HandlerFunc(d.serveHealth)},
		{"GET", "/v1/taps", accessRedacted, "?after=N&wait=5s: the taps numbered above N, waiting up to wait (30s at most) for one; " +
			"card numbers, balances and errors only with the credential", http.HandlerFunc(d.serveTaps)},
		{"GET", "/v1/journal", accessCredential, "?after=N&limit=100: the journal's records above sequence N (at most 1000), read-only",
			http.HandlerFunc(d.serveJournal)},
		{"GET", "/metrics", accessCredential, "Prometheus text exposition: taps, latency, store, sync, readers, relays, build", http.HandlerFunc(d.serveMetrics)},
		{"POST", "/v1/inputs/{name}", accessCredential, `{"active": true}: drives a simulated board input`, http.HandlerFunc(d.serveInput)},
		{"POST", "/v1/tamper/clear", accessCredential, `{"technician": "NAME"}: clears the tamper alarm (journaled with the name) once the case is closed`,
			http.HandlerFunc(d.serveTamperClear)},
		{"POST", "/v1/cancel-last", accessCashier, `{"pin": "<cashier PIN>"}: reverses the last sale within pos.cancel_window; ` +
			"the answer names the card, the amount and the intent reversed", http.HandlerFunc(d.serveCancelLast)},
	}
	if d.sessions != nil {
		routes = append(routes, d.kioskRoutes()...)
	}
	if d.deps.Control != nil {
		routes = append(routes, controlRoute{"", "/sim/", accessCredential, "the simulator's virtual cards and readers " +
			"(GET /sim/cards, /sim/cards/{name}, /sim/readers; POST /sim/readers/{name}/tap and /remove; " +
			"POST and DELETE /sim/cards/{name}/faults; POST /sim/cards/{name}/reload; GET and POST /sim/clock; GET /sim/board)", http.StripPrefix("/sim", d.deps.Control)})
	}
	return routes
}

// listenControl opens the control interface (control_listen.go): on
// loopback TCP with a new credential in the data directory
// (control_auth.go), or on a unix socket.
func (d *Daemon) listenControl(addr string) error {
	ln, err := listenControlAddr(addr)
	if err != nil {
		return err
	}
	guard, err := newControlGuard(ln, d.controlTokenPath())
	if err != nil {
		_ = ln.Close()
		return err
	}
	mux := http.NewServeMux()
	for _, rt := range d.controlRoutes() {
		pattern := rt.path
		if rt.method != "" {
			pattern = rt.method + " " + rt.path
		}
		h := rt.h
		if rt.access >= accessCredential {
			h = needCredential(h)
		}
		mux.Handle(pattern, h)
	}
	// Every request's context ends when the daemon stops, so that a long
	// poll on /v1/taps is answered at once instead of holding the shutdown.
	base, cancel := context.WithCancel(context.Background())
	d.ctlCancel = cancel
	d.ctl = &http.Server{Handler: guard.wrap(mux), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	d.ctlLn = ln
	return nil
}

// ControlEndpoint is one entry of GET /.
type ControlEndpoint struct {
	Method string `json:"method"` // "*" for any
	Path   string `json:"path"`
	Access string `json:"access"`
	Doc    string `json:"doc"`
}

// serveIndex answers GET /: the endpoints, from the table the mux is built
// from.
func (d *Daemon) serveIndex(w http.ResponseWriter, _ *http.Request) {
	var out []ControlEndpoint
	for _, rt := range d.controlRoutes() {
		e := ControlEndpoint{Method: rt.method, Path: strings.TrimSuffix(rt.path, "{$}"), Access: rt.access.String(), Doc: rt.doc}
		if e.Method == "" {
			e.Method = "*"
		}
		out = append(out, e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"device": d.cfg.Device.ID, "endpoints": out, "docs": "docs/control.md"})
}

// serveHealth answers GET /v1/health.
func (d *Daemon) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, d.Health())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // JSON for tools and people, never a page
	_ = enc.Encode(v)
}

// serveTaps answers GET /v1/taps?after=N[&wait=5s]: the taps numbered above
// N; with wait, it waits up to that long for one. A caller without the
// credential gets them without card numbers, balances and errors.
func (d *Daemon) serveTaps(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(wait, 30*time.Second)
	out, changed := d.outcomes.after(after)
	if len(out) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		d.polls.Add(1)
		defer d.polls.Add(-1)
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
	if !credentialed(r) {
		for i := range out {
			out[i].Card, out[i].Balance, out[i].Error = "", 0, ""
		}
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
		writeError(w, http.StatusConflict, CtlBoardReal, "the board is real: its inputs cannot be driven")
		return
	}
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"active": true|false}: `+err.Error())
		return
	}
	if err := setter.SetInput(r.PathValue("name"), body.Active); err != nil {
		writeError(w, http.StatusNotFound, CtlUnknownInput, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"input": r.PathValue("name"), "active": body.Active})
}

// CancelAnswer is the answer of POST /v1/cancel-last: what was reversed,
// or why not.
type CancelAnswer struct {
	Outcome string `json:"outcome"` // "cancelled" or "refused"
	Code    string `json:"code"`    // sale_cancelled, or the reason (nothing_to_cancel, cashier_pin_wrong, ...)
	Card    string `json:"card,omitempty"`
	Amount  int64  `json:"amount"`           // fen reversed
	Intent  uint64 `json:"intent,omitempty"` // the journal sequence of the sale's intent record
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
	// AttemptsLeft: a wrong cashier PIN, how many more before the lockout.
	AttemptsLeft int `json:"attempts_left,omitempty"`
	// RetryAfterSeconds: the cashier is locked out for this long.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// serveCancelLast answers POST /v1/cancel-last {"pin": "..."}: the
// cashier's cancel of the last sale. A sale that cannot be cancelled (none,
// too late, already) is a 200 with outcome "refused"; the cashier's
// refusals are 403 (429 while locked out) and name no card.
func (d *Daemon) serveCancelLast(w http.ResponseWriter, r *http.Request) {
	if d.pos == nil {
		writeError(w, http.StatusConflict, CtlNotAPOS, "not a POS")
		return
	}
	pin, ok := decodeCancelBody(http.MaxBytesReader(w, r.Body, 1024))
	if !ok {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"pin": "<the cashier's PIN>"}`)
		return
	}
	res, err := d.pos.CancelLast(r.Context(), pin)
	out := CancelAnswer{Outcome: res.Outcome.String(), Code: string(res.Code), Card: res.CardNo, Amount: res.Amount,
		Intent: res.IntentID, Message: res.Message.ZH + " / " + res.Message.EN}
	status := http.StatusOK
	var cerr *pos.CashierError
	switch {
	case errors.As(err, &cerr):
		out.Error, out.AttemptsLeft, status = cerr.Error(), cerr.AttemptsLeft, http.StatusForbidden
		if cerr.Code == pos.CodeCashierLocked {
			out.RetryAfterSeconds, status = cerr.RetryAfterSeconds(), http.StatusTooManyRequests
			w.Header().Set("Retry-After", strconv.Itoa(out.RetryAfterSeconds))
		}
	case err != nil:
		out.Code, out.Error, status = CtlStoreFault, "the store failed; see the log", http.StatusInternalServerError
	}
	writeJSON(w, status, out)
}

// decodeCancelBody reads cancel-last's body, {"pin": "..."} or nothing (no
// PIN). It reports no decoder message: that may quote the PIN.
func decodeCancelBody(r io.Reader) (pin string, ok bool) {
	var body struct {
		PIN string `json:"pin"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	switch err := dec.Decode(&body); {
	case errors.Is(err, io.EOF):
		return "", true
	case err != nil:
		return "", false
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return "", false // trailing data
	}
	return body.PIN, true
}
