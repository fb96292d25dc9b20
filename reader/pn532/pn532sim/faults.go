package pn532sim

import (
	"fmt"
	"slices"
	"sync"
)

// FaultKind is what a module fault does to the command it fires on.
type FaultKind string

// Fault kinds.
const (
	// Garble: the module answers with line noise and a frame whose length
	// checksum is wrong; a NACK from the host gets the good response.
	Garble FaultKind = "garble"
	// BadChecksum: the response frame's data checksum is wrong; a NACK from
	// the host gets the good response.
	BadChecksum FaultKind = "bad-checksum"
	// GarbleACK: the module's ACK frame arrives with a broken checksum;
	// the response follows intact.
	GarbleACK FaultKind = "garble-ack"
	// Silent: the module neither ACKs nor answers (a hung or unpowered
	// module).
	Silent FaultKind = "silent"
	// NoResponse: the module ACKs but never answers.
	NoResponse FaultKind = "no-response"
	// RefuseFrame: the module answers the command frame with a NACK
	// instead of an ACK (it did not take it); the host resends.
	RefuseFrame FaultKind = "nack"
	// RemoveCard: the card leaves the field as the command reaches it;
	// InDataExchange answers status 01 (timeout) without the card having
	// executed anything, and the card is gone.
	RemoveCard FaultKind = "remove-card"
	// MuteCard: the card stays in the field but does not answer this
	// command: InDataExchange answers status 01 (timeout) without the card
	// having executed anything.
	MuteCard FaultKind = "mute-card"
)

// AnyCommand in Fault.Cmd matches every command.
const AnyCommand byte = 0xFF

// Fault is one scripted failure of the simulated module: it fires on the
// next Times commands with code Cmd (AnyCommand for all); Times 0 means
// once, a negative Times forever.
type Fault struct {
	Kind  FaultKind
	Cmd   byte
	Times int
}

func (f Fault) String() string {
	return fmt.Sprintf("%s on 0x%02X x%d", f.Kind, f.Cmd, f.Times)
}

type faults struct {
	mu    sync.Mutex
	armed []*Fault
}

func (fs *faults) arm(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.armed = append(fs.armed, &f)
}

func (fs *faults) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.armed = nil
}

// fire returns the kinds that fire on command cmd, using up one-shots.
// With only set, only those kinds are considered (the others are left
// armed untouched).
func (fs *faults) fire(cmd byte, only ...FaultKind) map[FaultKind]bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fired := map[FaultKind]bool{}
	keep := fs.armed[:0]
	for _, f := range fs.armed {
		if f.Cmd != AnyCommand && f.Cmd != cmd || len(only) > 0 && !slices.Contains(only, f.Kind) {
			keep = append(keep, f)
			continue
		}
		fired[f.Kind] = true
		if f.Times > 0 {
			f.Times--
		}
		if f.Times != 0 {
			keep = append(keep, f)
		}
	}
	clear(fs.armed[len(keep):])
	fs.armed = keep
	return fired
}
