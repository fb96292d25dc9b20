package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
)

// Armable is a virtual card whose faults the control interface can arm.
type Armable interface {
	Presentable
	Arm(Fault) error
	ClearFaults()
	Faults() []Fault
}

// Control is the JSON control interface of a set of virtual readers and
// cards (see the package documentation for the endpoints). Serve it on
// loopback only: it moves cards and arms faults without authentication.
type Control struct {
	mu      sync.Mutex
	cards   map[string]Armable
	readers map[string]*Reader
	mux     *http.ServeMux
}

// NewControl returns an empty control interface.
func NewControl() *Control {
	c := &Control{cards: map[string]Armable{}, readers: map[string]*Reader{}, mux: http.NewServeMux()}
	c.mux.HandleFunc("GET /cards", c.listCards)
	c.mux.HandleFunc("GET /cards/{name}", c.getCard)
	c.mux.HandleFunc("POST /cards/{name}/faults", c.armFault)
	c.mux.HandleFunc("DELETE /cards/{name}/faults", c.clearFaults)
	c.mux.HandleFunc("GET /readers", c.listReaders)
	c.mux.HandleFunc("POST /readers/{name}/tap", c.tap)
	c.mux.HandleFunc("POST /readers/{name}/remove", c.remove)
	return c
}

// AddCard registers a card (a *Card or a *PSAMCard) under name.
func (c *Control) AddCard(name string, card Armable) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cards[name] = card
}

// AddReader registers a reader under its name.
func (c *Control) AddReader(r *Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readers[r.Name()] = r
}

// ServeHTTP serves the control endpoints.
func (c *Control) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// CardInfo is one card in the control interface's answers.
type CardInfo struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"` // "epurse" or "psam"
	Status   *Status `json:"status,omitempty"`
	Sequence uint32  `json:"sequence,omitempty"` // PSAM: last terminal sequence
	Faults   []Fault `json:"faults"`
}

// ReaderInfo is one reader in the control interface's answers.
type ReaderInfo struct {
	Name string `json:"name"`
	Card string `json:"card,omitempty"` // name of the card in the field
}

func (c *Control) info(name string, card Armable) CardInfo {
	ci := CardInfo{Name: name, Faults: card.Faults()}
	switch x := card.(type) {
	case *Card:
		st := x.Status()
		ci.Kind, ci.Status = "epurse", &st
	case *PSAMCard:
		ci.Kind, ci.Sequence = "psam", x.Sequence()
	default:
		ci.Kind = fmt.Sprintf("%T", card)
	}
	return ci
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (c *Control) card(w http.ResponseWriter, r *http.Request) (string, Armable, bool) {
	name := r.PathValue("name")
	c.mu.Lock()
	card, ok := c.cards[name]
	c.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Errorf("sim: no card %q", name))
	}
	return name, card, ok
}

func (c *Control) reader(w http.ResponseWriter, r *http.Request) (*Reader, bool) {
	name := r.PathValue("name")
	c.mu.Lock()
	rd, ok := c.readers[name]
	c.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Errorf("sim: no reader %q", name))
	}
	return rd, ok
}

func (c *Control) listCards(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	names := make([]string, 0, len(c.cards))
	for n := range c.cards {
		names = append(names, n)
	}
	cards := c.cards
	c.mu.Unlock()
	sort.Strings(names)
	out := make([]CardInfo, 0, len(names))
	for _, n := range names {
		c.mu.Lock()
		card := cards[n]
		c.mu.Unlock()
		out = append(out, c.info(n, card))
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Control) getCard(w http.ResponseWriter, r *http.Request) {
	if name, card, ok := c.card(w, r); ok {
		writeJSON(w, http.StatusOK, c.info(name, card))
	}
}

// decode reads a small JSON body strictly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("sim: control: body: %w", err)
	}
	return nil
}

func (c *Control) armFault(w http.ResponseWriter, r *http.Request) {
	name, card, ok := c.card(w, r)
	if !ok {
		return
	}
	var f Fault
	if err := decode(r, &f); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if err := card.Arm(f); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, c.info(name, card))
}

func (c *Control) clearFaults(w http.ResponseWriter, r *http.Request) {
	if name, card, ok := c.card(w, r); ok {
		card.ClearFaults()
		writeJSON(w, http.StatusOK, c.info(name, card))
	}
}

func (c *Control) readerInfo(rd *Reader) ReaderInfo {
	ri := ReaderInfo{Name: rd.Name()}
	if cur := rd.Card(); cur != nil {
		c.mu.Lock()
		for n, card := range c.cards {
			if Presentable(card) == cur {
				ri.Card = n
			}
		}
		c.mu.Unlock()
	}
	return ri
}

func (c *Control) listReaders(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	rds := make([]*Reader, 0, len(c.readers))
	for _, rd := range c.readers {
		rds = append(rds, rd)
	}
	c.mu.Unlock()
	sort.Slice(rds, func(i, j int) bool { return rds[i].Name() < rds[j].Name() })
	out := make([]ReaderInfo, 0, len(rds))
	for _, rd := range rds {
		out = append(out, c.readerInfo(rd))
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Control) tap(w http.ResponseWriter, r *http.Request) {
	rd, ok := c.reader(w, r)
	if !ok {
		return
	}
	var body struct {
		Card string `json:"card"`
	}
	if err := decode(r, &body); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	c.mu.Lock()
	card, found := c.cards[body.Card]
	c.mu.Unlock()
	if !found {
		writeErr(w, http.StatusNotFound, errors.New("sim: no card "+fmt.Sprintf("%q", body.Card)))
		return
	}
	rd.Tap(card)
	writeJSON(w, http.StatusOK, c.readerInfo(rd))
}

func (c *Control) remove(w http.ResponseWriter, r *http.Request) {
	if rd, ok := c.reader(w, r); ok {
		rd.Remove()
		writeJSON(w, http.StatusOK, c.readerInfo(rd))
	}
}
