package sim

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrTorn is what a virtual card's Respond returns when no response left
// the card: it was torn away (or removed) before or after executing the
// command. Whether the command took effect depends on the fault.
var ErrTorn = errors.New("sim: card torn")

// ErrBadFault: a fault description that cannot be armed.
var ErrBadFault = errors.New("sim: bad fault")

// FaultKind is what a fault does to the command it fires on.
type FaultKind string

// Fault kinds.
const (
	// TearBefore: the card leaves the field before the command reaches it;
	// nothing is executed and Respond returns ErrTorn. Armed on any
	// command (INS 0) it is "card removed between two APDUs".
	TearBefore FaultKind = "tear-before"
	// TearAfter: the card executes the command (and writes its state), then
	// leaves before the response is sent; Respond returns ErrTorn.
	TearAfter FaultKind = "tear-after"
	// Garble: the command executes; every byte of the response (status word
	// included) is inverted.
	Garble FaultKind = "garble"
	// Truncate: the command executes; only the first Keep bytes of the
	// response are sent (Keep 0 means 1 byte).
	Truncate FaultKind = "truncate"
	// WrongMAC2: the command executes; on DEBIT FOR PURCHASE the MAC2 of
	// the response is corrupted (the TAC is correct).
	WrongMAC2 FaultKind = "wrong-mac2"
	// Latency: the command executes and the response is delayed by Delay.
	// Through a sim.Reader the delay is spent in the reader's injected sleep
	// and a context that expires meanwhile gives reader.ErrTimeout (the
	// command did execute).
	Latency FaultKind = "latency"
)

// Command instructions, for Fault.INS.
const (
	InsAny                  byte = 0x00 // matches every command
	InsAppUnblock           byte = 0x18 // APPLICATION UNBLOCK (84 18)
	InsDiversifyKey         byte = 0x1A // PSAM: DIVERSIFY KEY
	InsAppBlock             byte = 0x1E // APPLICATION BLOCK (84 1E)
	InsVerify               byte = 0x20
	InsInit                 byte = 0x50 // INITIALIZE FOR PURCHASE and FOR LOAD
	InsCreditForLoad        byte = 0x52
	InsDebitForPurchase     byte = 0x54
	InsGetTransactionProve  byte = 0x5A
	InsGetBalance           byte = 0x5C
	InsChangePIN            byte = 0x5E // CHANGE PIN (P1 01) and PIN RELOAD (P1 00)
	InsInitSAMForPurchase   byte = 0x70
	InsCreditSAMForPurchase byte = 0x72
	InsGetChallenge         byte = 0x84 // GET CHALLENGE (00 84)
	InsSelect               byte = 0xA4
	InsReadBinary           byte = 0xB0
	InsReadRecord           byte = 0xB2
	InsGetData              byte = 0xCA // CLA FF: the reader's GET DATA (UID)
	InsUpdateBinary         byte = 0xD6 // UPDATE BINARY (04 D6 under secure messaging)
	InsEncrypt              byte = 0xFA // PSAM: ENCRYPT
)

// insNames are the names a Fault's JSON "ins" may use instead of hex.
// "pin-reload" and "change-pin" name the same instruction (5E); a Fault
// marshals with the first name in alphabetical order.
var insNames = map[string]byte{
	"any": InsAny, "verify": InsVerify, "init": InsInit, "credit": InsCreditForLoad,
	"debit": InsDebitForPurchase, "prove": InsGetTransactionProve, "balance": InsGetBalance,
	"change-pin": InsChangePIN, "init-sam": InsInitSAMForPurchase, "credit-sam": InsCreditSAMForPurchase,
	"select": InsSelect, "read-binary": InsReadBinary, "read-record": InsReadRecord,
	"diversify": InsDiversifyKey, "encrypt": InsEncrypt, "get-data": InsGetData,
	"get-challenge": InsGetChallenge, "update-binary": InsUpdateBinary, "app-block": InsAppBlock,
	"app-unblock": InsAppUnblock, "pin-reload": InsChangePIN,
}

// Fault is one scripted failure of a virtual card. It fires on the Nth
// command with instruction INS that the card receives after the fault was
// armed (Nth 0 means 1), once, or on every such command from the Nth on if
// Repeat is set. Several faults may fire on one command.
//
// In JSON (the control interface): {"kind": "tear-after", "ins": "debit",
// "nth": 1, "repeat": false, "delay": "150ms", "keep": 3}; "ins" is a name
// (any, select, read-binary, read-record, verify, change-pin, init, debit,
// credit, prove, balance, init-sam, credit-sam, diversify, encrypt,
// get-data, get-challenge, update-binary, app-block, app-unblock,
// pin-reload) or two hex digits.
type Fault struct {
	Kind   FaultKind
	INS    byte // InsAny for every command
	Nth    int
	Repeat bool
	Delay  time.Duration // Latency
	Keep   int           // Truncate
}

type faultJSON struct {
	Kind   FaultKind `json:"kind"`
	INS    string    `json:"ins,omitempty"`
	Nth    int       `json:"nth,omitempty"`
	Repeat bool      `json:"repeat,omitempty"`
	Delay  string    `json:"delay,omitempty"`
	Keep   int       `json:"keep,omitempty"`
}

// MarshalJSON encodes f in the control interface's form.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Kind: f.Kind, INS: hex.EncodeToString([]byte{f.INS}), Nth: f.Nth, Repeat: f.Repeat, Keep: f.Keep}
	name := ""
	for n, ins := range insNames {
		if ins == f.INS && (name == "" || n < name) {
			name = n
		}
	}
	if name != "" {
		j.INS = name
	}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes and validates the control interface's form.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %w", ErrBadFault, err)
	}
	g := Fault{Kind: j.Kind, Nth: j.Nth, Repeat: j.Repeat, Keep: j.Keep}
	if ins, ok := insNames[strings.ToLower(j.INS)]; ok {
		g.INS = ins
	} else if j.INS == "" {
		g.INS = InsAny
	} else if h, err := hex.DecodeString(j.INS); err == nil && len(h) == 1 {
		g.INS = h[0]
	} else {
		return fmt.Errorf("%w: unknown ins %q", ErrBadFault, j.INS)
	}
	if j.Delay != "" {
		d, err := time.ParseDuration(j.Delay)
		if err != nil {
			return fmt.Errorf("%w: delay: %w", ErrBadFault, err)
		}
		g.Delay = d
	}
	if err := g.validate(); err != nil {
		return err
	}
	*f = g
	return nil
}

func (f Fault) validate() error {
	switch f.Kind {
	case TearBefore, TearAfter, Garble, Truncate, WrongMAC2, Latency:
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrBadFault, f.Kind)
	}
	if f.Nth < 0 || f.Keep < 0 || f.Delay < 0 {
		return fmt.Errorf("%w: negative nth, keep or delay", ErrBadFault)
	}
	return nil
}

// String renders the fault for logs, e.g. "tear-after on DEBIT #1".
func (f Fault) String() string {
	b, _ := f.MarshalJSON()
	return string(b)
}

type armedFault struct {
	Fault
	seen int
}

// faults is the armed fault script of one virtual card.
type faults struct {
	mu    sync.Mutex
	armed []*armedFault
}

func (fs *faults) arm(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.Nth == 0 {
		f.Nth = 1
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.armed = append(fs.armed, &armedFault{Fault: f})
	return nil
}

func (fs *faults) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.armed = nil
}

func (fs *faults) list() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]Fault, 0, len(fs.armed))
	for _, a := range fs.armed {
		out = append(out, a.Fault)
	}
	return out
}

// fire counts a command with instruction ins and returns the faults that
// fire on it, disarming the one-shot ones.
func (fs *faults) fire(ins byte) []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var fired []Fault
	keep := fs.armed[:0]
	for _, a := range fs.armed {
		if a.INS != InsAny && a.INS != ins {
			keep = append(keep, a)
			continue
		}
		a.seen++
		switch {
		case a.seen == a.Nth && !a.Repeat:
			fired = append(fired, a.Fault)
			continue // one-shot: disarmed
		case a.seen >= a.Nth && a.Repeat:
			fired = append(fired, a.Fault)
		}
		keep = append(keep, a)
	}
	clear(fs.armed[len(keep):])
	fs.armed = keep
	return fired
}

// applied is the outcome of the faults that fired on one command.
type applied struct {
	before, after bool // tear before or after execution
	garble        bool
	truncate      int // bytes kept, -1 none
	wrongMAC2     bool
	delay         time.Duration
}

func collect(fired []Fault) applied {
	a := applied{truncate: -1}
	for _, f := range fired {
		switch f.Kind {
		case TearBefore:
			a.before = true
		case TearAfter:
			a.after = true
		case Garble:
			a.garble = true
		case Truncate:
			a.truncate = max(f.Keep, 1)
		case WrongMAC2:
			a.wrongMAC2 = true
		case Latency:
			a.delay += f.Delay
		}
	}
	return a
}

// mangle applies the response faults to resp (a fresh slice).
func (a applied) mangle(ins byte, resp []byte) []byte {
	if a.wrongMAC2 && ins == InsDebitForPurchase && len(resp) == 10 {
		resp[7] ^= 0x5A // MAC2 is data bytes 4..7
	}
	if a.garble {
		for i := range resp {
			resp[i] = ^resp[i]
		}
	}
	if a.truncate >= 0 && a.truncate < len(resp) {
		resp = resp[:a.truncate]
	}
	return resp
}
