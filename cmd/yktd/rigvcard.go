package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
	"github.com/openykt/yktd/terminal"
)

// vcardReader is the name under which `yktd rig vcard --control` calls its
// one vpcd slot, as the simulator calls its readers.
const vcardReader = "vpcd"

// stateFiles is the repeatable --state flag.
type stateFiles []string

func (s *stateFiles) String() string { return strings.Join(*s, ",") }

// Set adds one file.
func (s *stateFiles) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// vcardControl is the control interface of `yktd rig vcard --control`:
// the simulator's card endpoints (GET /sim/cards, faults, reload) for
// cards behind one vpcd slot, whose tap and remove connect and disconnect
// it. Every call needs the credential (terminal.GuardControl).
type vcardControl struct {
	slot *vpcd.Slot
	ctl  *sim.Control

	mu      sync.Mutex
	cards   map[string]*sim.Card
	paths   map[string]string
	present string // the card in the field, or ""
}

func newVCardControl(slot *vpcd.Slot, files []string) (*vcardControl, error) {
	v := &vcardControl{slot: slot, ctl: sim.NewControl(), cards: map[string]*sim.Card{}, paths: map[string]string{}}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if !cardName(name) || v.cards[name] != nil {
			return nil, usageError("--state %s: the card's name is its file name (letters, digits, - and _), once each", f)
		}
		c, err := sim.LoadCard(f)
		if err != nil {
			return nil, fmt.Errorf("rig vcard: %w", err)
		}
		v.cards[name], v.paths[name] = c, f
		v.ctl.AddCard(name, c)
	}
	return v, nil
}

// torn is called when the slot dropped a card torn mid-command: it has
// left the field.
func (v *vcardControl) torn() {
	v.mu.Lock()
	v.present = ""
	v.mu.Unlock()
}

func (v *vcardControl) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sim/readers", func(w http.ResponseWriter, _ *http.Request) {
		v.mu.Lock()
		defer v.mu.Unlock()
		simJSON(w, http.StatusOK, []sim.ReaderInfo{{Name: vcardReader, Card: v.present}})
	})
	mux.HandleFunc("POST /sim/readers/"+vcardReader+"/tap", v.serveTap)
	mux.HandleFunc("POST /sim/readers/"+vcardReader+"/remove", func(w http.ResponseWriter, _ *http.Request) {
		v.mu.Lock()
		v.present = ""
		v.slot.Remove()
		v.mu.Unlock()
		simJSON(w, http.StatusOK, sim.ReaderInfo{Name: vcardReader})
	})
	mux.HandleFunc("POST /sim/cards/{name}/reload", v.serveReload)
	mux.Handle("/sim/", http.StripPrefix("/sim", v.ctl))
	return mux
}

func (v *vcardControl) serveTap(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Card string `json:"card"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		simError(w, http.StatusBadRequest, `rig vcard: body: want {"card": "NAME"}: %v`, err)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.cards[body.Card]
	if !ok {
		simError(w, http.StatusNotFound, "rig vcard: no card %q", body.Card)
		return
	}
	v.present = body.Card
	v.slot.Present(c)
	simJSON(w, http.StatusOK, sim.ReaderInfo{Name: vcardReader, Card: body.Card})
}

// serveReload reads a card again from its state file (another device
// changed it); not while it is in the field.
func (v *vcardControl) serveReload(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v.mu.Lock()
	defer v.mu.Unlock()
	path, ok := v.paths[name]
	switch {
	case !ok:
		simError(w, http.StatusNotFound, "rig vcard: no card %q", name)
		return
	case v.present == name:
		simError(w, http.StatusConflict, "rig vcard: card %s is in the field: remove it first", name)
		return
	}
	c, err := sim.LoadCard(path)
	if err != nil {
		simError(w, http.StatusInternalServerError, "rig vcard: %v", err)
		return
	}
	v.cards[name] = c
	v.ctl.AddCard(name, c)
	simJSON(w, http.StatusOK, map[string]any{"name": name, "status": c.Status()})
}

// serveVCardControl serves v on addr (loopback TCP) until ctx ends,
// writing the credential and the address into dir (control.token,
// control.addr, removed at the end).
func serveVCardControl(ctx context.Context, v *vcardControl, addr, dir string, stderr io.Writer) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rig vcard: %w", err)
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, usageError("--control %q: want a loopback address and port (127.0.0.1:0)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rig vcard: control: %w", err)
	}
	h, err := terminal.GuardControl(ln, filepath.Join(dir, terminal.ControlTokenName), v.handler())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("rig vcard: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "rig vcard: control: %v\n", err)
		}
	}()
	addrFile := filepath.Join(dir, "control.addr")
	if err := writeFile0600(addrFile, []byte(ln.Addr().String()+"\n")); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("rig vcard: %w", err)
	}
	fmt.Fprintf(stderr, "control: http://%s/sim/ (credential %s)\n", ln.Addr(), filepath.Join(dir, terminal.ControlTokenName))
	return func() {
		_ = os.Remove(addrFile)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// rigVCardControlled is `yktd rig vcard --control`: the cards of the
// state files behind one vpcd slot, out of the field until tapped.
func rigVCardControlled(states stateFiles, demo string, psam bool, control, dir string, port int, stdout, stderr io.Writer) error {
	switch {
	case demo != "" || psam:
		return usageError("--control drives state files: issue a demo card into one first (--state FILE --demo NAME)")
	case len(states) == 0:
		return usageError("--control needs at least one --state FILE")
	case dir == "":
		return usageError("--control needs --dir DIR for its credential")
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var v *vcardControl
	slot := &vpcd.Slot{
		Addr: addr,
		Log:  slog.New(slog.NewTextHandler(stderr, nil)),
		OnChange: func(s vpcd.State) {
			fmt.Fprintf(stdout, "%s: %s\n", addr, s)
			if s == vpcd.Torn && v != nil {
				v.torn()
			}
		},
	}
	v, err := newVCardControl(slot, states)
	if err != nil {
		return err
	}
	ctx, stop := runEnv.interrupt(context.Background())
	defer stop()
	done, err := serveVCardControl(ctx, v, control, dir, stderr)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(stderr, "%d cards for vpcd %s, out of the field until tapped, until interrupted\n", len(states), addr)
	return slot.Run(ctx)
}
