package main

// What `yktd rig run` (docs/rig.md) needs of `yktd run --sim` beyond the
// demo: the simulator's clock, its board and card reloads under /sim/, the
// cards of DIR/cards that are not in the demo catalogue, and a ledger
// that runs in its own process (sync.ledger of a --config file).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/sim"
)

// simRig is the simulator's state for the rig: its clock and the cards
// beyond the demo's (DIR/cards, reloaded by POST /sim/cards/{name}/reload).
type simRig struct {
	clock   simClock
	cardsMu sync.Mutex
	extra   map[string]*sim.Card
}

// simClock is the simulator's clock: the wall clock plus an offset that
// POST /sim/clock steps, as if the device's clock had been set. The daemon
// (DaemonDeps.Now) and the store read it, so the store journals the step as
// a clock-changed record like a real one. It is an offline.Clock. Like a
// device's real-time clock it keeps its setting across a restart: the
// offset is kept in DIR/sim-clock.offset.
type simClock struct {
	mu     sync.Mutex
	offset time.Duration
	file   string // where the offset is kept ("" nowhere)
}

// simClockFile keeps the simulator clock's offset in the data directory.
const simClockFile = "sim-clock.offset"

// load reads the offset kept in dir, if any, and keeps the next steps there.
func (c *simClock) load(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.file = filepath.Join(dir, simClockFile)
	b, err := os.ReadFile(c.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run: sim clock: %w", err)
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("run: sim clock: %s: %w", c.file, err)
	}
	c.offset = d
	return nil
}

// Now returns the wall clock plus the offset.
func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Monotonic is the process's monotonic clock: a step of the wall clock
// does not move it, which is how the store sees the step.
func (c *simClock) Monotonic() time.Duration { return offline.SystemClock{}.Monotonic() }

// step moves the clock by d and returns the offset from the wall clock.
func (c *simClock) step(d time.Duration) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	if c.file != "" {
		if err := writeFile0600(c.file, []byte(c.offset.String()+"\n")); err != nil {
			return c.offset, fmt.Errorf("run: sim clock: keep the offset: %w", err)
		}
	}
	return c.offset, nil
}

func (c *simClock) get() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

var _ offline.Clock = (*simClock)(nil)

// simHandler is what the control interface mounts under /sim/: the
// simulator's cards and readers (sim.Control) and, beside them, GET and
// POST /sim/clock, GET /sim/board and POST /sim/cards/{name}/reload.
func (e *simEnv) simHandler(ctl *sim.Control) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clock", e.serveClock)
	mux.HandleFunc("POST /clock", e.serveClockStep)
	mux.HandleFunc("GET /board", e.serveBoard)
	mux.HandleFunc("POST /cards/{name}/reload", func(w http.ResponseWriter, r *http.Request) { e.serveReload(w, r, ctl) })
	mux.Handle("/", ctl)
	return mux
}

func simJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func simError(w http.ResponseWriter, code int, format string, args ...any) {
	simJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

type clockAnswer struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"` // from the wall clock, a Go duration
}

func (e *simEnv) clockAnswer() clockAnswer {
	return clockAnswer{Now: e.clock.Now(), Offset: e.clock.get().String()}
}

// serveClock answers GET /sim/clock: the simulator's time and its offset.
func (e *simEnv) serveClock(w http.ResponseWriter, _ *http.Request) {
	simJSON(w, http.StatusOK, e.clockAnswer())
}

// serveClockStep answers POST /sim/clock {"step": "48h"}: the clock jumps
// by step (negative: back).
func (e *simEnv) serveClockStep(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Step string `json:"step"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		simError(w, http.StatusBadRequest, `run: sim clock: body: want {"step": "48h"}: %v`, err)
		return
	}
	d, err := time.ParseDuration(body.Step)
	if err != nil || d == 0 {
		simError(w, http.StatusBadRequest, "run: sim clock: step %q: want a Go duration other than 0", body.Step)
		return
	}
	off, err := e.clock.step(d)
	if err != nil {
		e.log.Error("simulator clock stepped but not kept for the next start", "err", err)
	}
	e.log.Warn("simulator clock stepped", "step", d.String(), "offset", off.String())
	simJSON(w, http.StatusOK, e.clockAnswer())
}

// BoardInfo is GET /sim/board: the simulated board's relays (energised or
// not, and how many times each left its safe state), inputs and
// indicators.
type BoardInfo struct {
	Relays     []RelayInfo     `json:"relays"`
	Inputs     []InputInfo     `json:"inputs"`
	Indicators []IndicatorInfo `json:"indicators"`
}

// RelayInfo is one relay of BoardInfo.
type RelayInfo struct {
	Name string `json:"name"`
	Pin  string `json:"pin"`
	// On: energised now.
	On bool `json:"on"`
	// Pulses counts the changes from the safe state since the start.
	Pulses int `json:"pulses"`
}

// InputInfo is one input of BoardInfo.
type InputInfo struct {
	Name   string `json:"name"`
	Pin    string `json:"pin"`
	Active bool   `json:"active"`
}

// IndicatorInfo is one indicator of BoardInfo.
type IndicatorInfo struct {
	Name string `json:"name"`
	Pin  string `json:"pin"`
	On   bool   `json:"on"`
}

func (e *simEnv) serveBoard(w http.ResponseWriter, _ *http.Request) {
	simJSON(w, http.StatusOK, e.boardInfo())
}

func (e *simEnv) boardInfo() BoardInfo {
	out := BoardInfo{Relays: []RelayInfo{}, Inputs: []InputInfo{}, Indicators: []IndicatorInfo{}}
	for _, r := range e.spec.Relays {
		ri := RelayInfo{Name: r.Name, Pin: r.Pin, On: e.pins.High(r.Pin) != r.ActiveLow}
		safe := r.SafeOn
		prev := safe
		for _, c := range e.pins.ChangesOf(r.Pin) {
			on := c.High != r.ActiveLow
			if on != safe && prev == safe {
				ri.Pulses++
			}
			prev = on
		}
		out.Relays = append(out.Relays, ri)
	}
	for _, in := range e.spec.Inputs {
		out.Inputs = append(out.Inputs, InputInfo{Name: in.Name, Pin: in.Pin, Active: e.pins.High(in.Pin) != in.ActiveLow})
	}
	for _, ind := range e.spec.Indicators {
		out.Indicators = append(out.Indicators, IndicatorInfo{Name: ind.Name, Pin: ind.Pin, On: e.pins.High(ind.Pin) != ind.ActiveLow})
	}
	return out
}

// serveReload answers POST /sim/cards/{name}/reload: the card is read
// again from DIR/cards/NAME.json, where another simulator (the rig shares
// one cards folder between its devices) may have changed it since: a card
// carried from one terminal to the next. A card in the reader's field is
// not reloaded (409): it is in use here.
func (e *simEnv) serveReload(w http.ResponseWriter, r *http.Request, ctl *sim.Control) {
	name := r.PathValue("name")
	if !cardName(name) {
		simError(w, http.StatusBadRequest, "run: sim card %q: want letters, digits, - and _", name)
		return
	}
	if in := e.rdr.Card(); in != nil {
		if cur, ok := in.(*sim.Card); ok && e.cardNamed(name) == cur {
			simError(w, http.StatusConflict, "run: sim card %s is in the reader's field: remove it first", name)
			return
		}
	}
	c, err := sim.LoadCard(filepath.Join(e.dir, "cards", name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		simError(w, http.StatusNotFound, "run: no sim card %q", name)
		return
	}
	if err != nil {
		simError(w, http.StatusInternalServerError, "run: %v", err)
		return
	}
	e.cardsMu.Lock()
	e.extra[name] = c
	e.cardsMu.Unlock()
	ctl.AddCard(name, c)
	simJSON(w, http.StatusOK, map[string]any{"name": name, "status": c.Status()})
}

// cardNamed is the card the simulator holds under name (a reloaded one
// first).
func (e *simEnv) cardNamed(name string) *sim.Card {
	e.cardsMu.Lock()
	defer e.cardsMu.Unlock()
	if c, ok := e.extra[name]; ok {
		return c
	}
	return e.cards[name]
}

// cardName: a card's name is a file name in DIR/cards.
func cardName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// loadExtraCards puts every card of DIR/cards that is not a demo card on
// the virtual reader, under its file name.
func (e *simEnv) loadExtraCards(ctl *sim.Control) error {
	paths, err := filepath.Glob(filepath.Join(e.dir, "cards", "*.json"))
	if err != nil {
		return fmt.Errorf("run: sim cards: %w", err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if _, demo := e.cards[name]; demo || !cardName(name) {
			continue
		}
		c, err := sim.LoadCard(p)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		e.extra[name] = c
		ctl.AddCard(name, c)
	}
	return nil
}

// ledgerOf enrols with (or reconnects to) the ledger that sync.ledger of
// the --config file names, a ledger in its own process, and runs a first
// bounded sync round, as startLedger does with the in-process one.
func (e *simEnv) ledgerOf(ctx context.Context, token string) (*syncclient.Client, error) {
	client, err := newSyncClient(ctx, e.cfg, e.store, token, nil, e.log)
	if err != nil {
		return nil, fmt.Errorf("run: sync: %w", err)
	}
	if client == nil {
		return nil, nil // not enrolled: the journal waits
	}
	e.firstPull(ctx, client)
	return client, nil
}
