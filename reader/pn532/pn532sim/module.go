// Package pn532sim simulates a PN532 NFC module on the device side of a
// serial line (the master of a pseudo-terminal pair, see internal/ptytest),
// speaking the frames of reader/pn532 and holding a virtual card of
// reader/sim in its field. The rig and the tests of reader/pn532 and
// cmd/yktd run the real driver, through go.bug.st/serial, against it.
//
// Like a PN532 in HSU mode it sleeps until a wake-up byte (0x55) arrives,
// ACKs every good command frame before answering, ignores frames with a
// bad checksum and answers a host NACK by resending its last response. It
// runs each command to completion before reading on, so a host ACK (abort)
// is only counted. Faults (Arm) garble responses or ACKs, break checksums,
// keep it silent, make it refuse a frame, or take the card away or mute it
// mid-exchange; Unplug (closing the master) is the USB adapter pulled. A
// card with a SAK() method other than 0x20 (ISO 14443-4) is listed without
// ATS and takes no APDUs.
package pn532sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/openykt/yktd/reader/pn532"
	"github.com/openykt/yktd/reader/sim"
)

// Port is the device side of the line: an *os.File master of a
// pseudo-terminal pair.
type Port interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

// Firmware is what the simulated module reports: PN532 v1.6.
var Firmware = []byte{0x32, 0x01, 0x06, 0x07}

// Stats counts what the module received, for tests.
type Stats struct {
	Commands  map[byte]int // good command frames by command code
	ACKs      int          // ACK frames from the host (aborts)
	NACKs     int          // NACK frames from the host
	BadFrames int          // frames it could not decode
	Wakeups   int          // times it was woken from sleep by 0x55
}

// Module is a simulated PN532. Its methods are safe for concurrent use.
type Module struct {
	port Port

	faults faults

	mu      sync.Mutex
	card    sim.Presentable
	active  bool // the card was activated by InListPassiveTarget
	awake   bool
	samMode byte
	last    []byte // last response frame sent, for NACK
	lastCmd byte   // the command it answered
	stats   Stats
	changed chan struct{} // closed and replaced on every command served
}

// New returns a module on port, asleep, with an empty field.
func New(port Port) *Module {
	return &Module{port: port, stats: Stats{Commands: map[byte]int{}}, changed: make(chan struct{})}
}

// Tap puts card in the field (powered up: Reset); a card already there is
// replaced.
func (m *Module) Tap(card sim.Presentable) {
	card.Reset()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.card, m.active = card, false
}

// Remove takes the card out of the field.
func (m *Module) Remove() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.card, m.active = nil, false
}

// Unplug closes the port when it can be closed (an *os.File master): the
// host's port fails as when the module's USB adapter is pulled, and Serve
// returns.
func (m *Module) Unplug() error {
	c, ok := m.port.(io.Closer)
	if !ok {
		return fmt.Errorf("pn532sim: unplug: %T cannot be closed", m.port)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("pn532sim: unplug: %w", err)
	}
	return nil
}

// Arm adds a fault to the module's script.
func (m *Module) Arm(f Fault) { m.faults.arm(f) }

// ClearFaults disarms every fault.
func (m *Module) ClearFaults() { m.faults.clear() }

// Stats returns a copy of the counters.
func (m *Module) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Commands = make(map[byte]int, len(m.stats.Commands))
	for k, v := range m.stats.Commands {
		s.Commands[k] = v
	}
	return s
}

// WaitFor blocks until cond holds on the module's counters (checked after
// every frame the module handles) or ctx ends.
func (m *Module) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	for {
		m.mu.Lock()
		ch := m.changed
		m.mu.Unlock()
		if cond(m.Stats()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("pn532sim: wait: %w", ctx.Err())
		}
	}
}

func (m *Module) notify() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Serve runs the module until ctx is done (it returns nil) or the port
// fails, e.g. the master was closed to unplug the module (it returns the
// read error).
func (m *Module) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { m.port.SetReadDeadline(time.Now()) })
	defer stop()
	var d pn532.Decoder
	buf := make([]byte, 512)
	for {
		n, err := m.port.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("pn532sim: read: %w", err)
		}
		chunk := buf[:n]
		m.mu.Lock()
		if !m.awake {
			i := bytes.IndexByte(chunk, 0x55)
			if i < 0 {
				m.mu.Unlock()
				continue // asleep: the line is not listened to
			}
			m.awake = true
			m.stats.Wakeups++
			chunk = chunk[i:]
		}
		m.mu.Unlock()
		d.Write(chunk)
		for {
			f, err := d.Next()
			if errors.Is(err, pn532.ErrIncomplete) {
				break
			}
			if werr := m.handle(f, err); werr != nil {
				return werr
			}
		}
	}
}

// handle answers one decoded frame (or counts a bad one).
func (m *Module) handle(f pn532.Frame, derr error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.notify()
	switch {
	case derr != nil:
		m.stats.BadFrames++ // a PN532 ignores it; the host times out or resends
		return nil
	case f.Kind == pn532.KindACK:
		m.stats.ACKs++ // abort: commands run to completion before the next frame is read
		return nil
	case f.Kind == pn532.KindNACK:
		m.stats.NACKs++
		if m.last == nil {
			return nil
		}
		// A Garble or BadChecksum fault armed for several times spoils
		// the resends too.
		return m.write(corrupt(m.last, m.faults.fire(m.lastCmd, Garble, BadChecksum)))
	case f.Kind != pn532.KindInfo || f.TFI != pn532.TFIHost:
		m.stats.BadFrames++
		return nil
	}
	cmd := f.Data[0]
	m.stats.Commands[cmd]++
	fired := m.faults.fire(cmd)
	switch {
	case fired[Silent]:
		return nil
	case fired[RefuseFrame]:
		return m.write(pn532.NACKFrame)
	}
	ack := pn532.ACKFrame
	if fired[GarbleACK] {
		ack = []byte{0x00, 0x00, 0xFF, 0x00, 0xFE, 0x00}
	}
	if err := m.write(ack); err != nil {
		return err
	}
	if fired[NoResponse] {
		return nil
	}
	data := m.execute(f.Data, fired)
	if data == nil {
		m.last, m.lastCmd = pn532.ErrorFrame, cmd
		return m.write(pn532.ErrorFrame)
	}
	frame, err := pn532.EncodeInfo(pn532.TFIModule, data)
	if err != nil {
		return fmt.Errorf("pn532sim: encode: %w", err)
	}
	m.last, m.lastCmd = frame, cmd
	return m.write(corrupt(frame, fired))
}

// corrupt applies the Garble and BadChecksum faults to a response frame.
func corrupt(frame []byte, fired map[FaultKind]bool) []byte {
	switch {
	case fired[Garble]:
		out := append([]byte{0x13, 0x37, 0x00, 0x00, 0xFF}, frame[3:]...)
		out[5] ^= 0x5A // LEN no longer matches LCS
		return out
	case fired[BadChecksum]:
		out := bytes.Clone(frame)
		out[len(out)-2] ^= 0xFF
		return out
	}
	return frame
}

func (m *Module) write(b []byte) error {
	if _, err := m.port.Write(b); err != nil {
		return fmt.Errorf("pn532sim: write: %w", err)
	}
	return nil
}

// execute runs one command and returns the response data (response code
// first), or nil for the error frame.
func (m *Module) execute(data []byte, fired map[FaultKind]bool) []byte {
	cmd, p := data[0], data[1:]
	rc := cmd + 1
	switch cmd {
	case pn532.CmdGetFirmwareVersion:
		return append([]byte{rc}, Firmware...)
	case pn532.CmdSAMConfiguration:
		if len(p) < 1 {
			return nil
		}
		m.samMode = p[0]
		return []byte{rc}
	case pn532.CmdRFConfiguration:
		if len(p) < 1 {
			return nil
		}
		return []byte{rc}
	case pn532.CmdDiagnose:
		if len(p) < 1 || p[0] != pn532.DiagPresence {
			return nil
		}
		if m.card != nil && m.active && sak(m.card)&0x20 != 0 {
			return []byte{rc, 0x00}
		}
		return []byte{rc, 0x01}
	case pn532.CmdInListPassiveTarget:
		if len(p) < 2 || p[0] < 1 || p[0] > 2 {
			return nil
		}
		if fired[RemoveCard] {
			m.card, m.active = nil, false
		}
		if m.card == nil || p[1] != 0x00 || m.samMode != 0x01 {
			return []byte{rc, 0x00}
		}
		m.card.Reset()
		m.active = true
		return append([]byte{rc, 0x01}, targetData(m.card)...)
	case pn532.CmdInDataExchange:
		if len(p) < 1 {
			return nil
		}
		if fired[RemoveCard] {
			m.card, m.active = nil, false
		}
		if m.card == nil || fired[MuteCard] {
			return []byte{rc, 0x01} // the card does not answer
		}
		if !m.active || p[0] != 0x01 {
			return []byte{rc, 0x27}
		}
		if sak(m.card)&0x20 == 0 {
			return []byte{rc, 0x27} // not an ISO 14443-4 card: no APDUs
		}
		rsp, err := m.card.Respond(bytes.Clone(p[1:]))
		if err != nil {
			// Torn: the card left the field without answering.
			m.card, m.active = nil, false
			return []byte{rc, 0x01}
		}
		if len(rsp) > pn532.MaxAPDU {
			return []byte{rc, 0x07}
		}
		return append([]byte{rc, 0x00}, rsp...)
	case pn532.CmdInRelease:
		m.active = false
		return []byte{rc, 0x00}
	}
	return nil
}

// sak is the card's SEL_RES: the card's SAK() when it has one (a MIFARE
// Classic stand-in answers 08), else 20 (ISO 14443-4).
func sak(card sim.Presentable) byte {
	if s, ok := card.(interface{ SAK() byte }); ok {
		return s.SAK()
	}
	return 0x20
}

// targetData is InListPassiveTarget's entry for card: Tg 1, ATQA 0004,
// its SAK, the UID, and for an ISO 14443-4 card an ATS carrying the
// historical bytes of the card's ATR.
func targetData(card sim.Presentable) []byte {
	uid := []byte{0x08, 0x12, 0x34, 0x56} // random-UID style, for cards without one
	if u, ok := card.(interface{ UID() []byte }); ok && len(u.UID()) > 0 {
		uid = u.UID()
	}
	s := sak(card)
	out := []byte{0x01, 0x00, 0x04, s, byte(len(uid))}
	out = append(out, uid...)
	if s&0x20 == 0 {
		return out // no ATS: not ISO 14443-4
	}
	hist := historical(card.ATR())
	// TL, T0 (TA TB TC present, FSCI 8: 256 bytes), TA, TB (FWI 7), TC.
	ats := []byte{byte(5 + len(hist)), 0x78, 0x80, 0x70, 0x02}
	return append(append(out, ats...), hist...)
}

// historical returns the historical bytes of a contactless ATR as a PC/SC
// reader builds it (3B 8n 80 01 hist TCK), or none.
func historical(atr []byte) []byte {
	if len(atr) < 5 || atr[0] != 0x3B || atr[1]&0xF0 != 0x80 || atr[2] != 0x80 || atr[3] != 0x01 {
		return nil
	}
	k := int(atr[1] & 0x0F)
	if len(atr) < 4+k {
		return nil
	}
	return atr[4 : 4+k]
}
