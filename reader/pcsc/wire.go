package pcsc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// pcscd's message protocol (pcsc-lite src/winscard_msg.h), protocol 4.4.
// All integers are little-endian host integers: pcscd only talks to
// clients on the same machine, and every target we build for (amd64,
// arm, arm64) is little-endian. See the package documentation for the
// struct layouts.
const (
	protocolMajor = 4
	protocolMinor = 4

	cmdEstablishContext   = 0x01
	cmdReleaseContext     = 0x02
	cmdConnect            = 0x04
	cmdDisconnect         = 0x06
	cmdTransmit           = 0x09
	cmdStatus             = 0x0B
	cmdVersion            = 0x11
	cmdGetReadersState    = 0x12
	cmdWaitReaderState    = 0x13
	cmdStopWaitingReaders = 0x14

	maxReaderName   = 128 // MAX_READERNAME
	maxATRSize      = 33  // MAX_ATR_SIZE
	maxReaders      = 16  // PCSCLITE_MAX_READERS_CONTEXTS
	readerStateSize = 184 // sizeof(READER_STATE): 128+4+4+4+33, 3 bytes padding, 4+4
	readerStatesLen = maxReaders * readerStateSize

	versionSize    = 12  // version_struct
	establishSize  = 12  // establish_struct
	releaseSize    = 8   // release_struct
	connectSize    = 152 // connect_struct: 4+128+4+4+4+4+4
	disconnectSize = 12  // disconnect_struct
	statusSize     = 8   // status_struct
	transmitSize   = 32  // transmit_struct
	waitSize       = 8   // wait_reader_state_change

	// maxResponse bounds a TRANSMIT answer: an extended-length response
	// (65536 bytes) and its status word. Anything longer from the daemon
	// is refused before allocating.
	maxResponse = 65536 + 2
	// maxCommand bounds a command APDU (pcscd's MAX_BUFFER_SIZE_EXTENDED).
	maxCommand = 4 + 3 + 65536 + 3 + 2

	scopeSystem = 2 // SCARD_SCOPE_SYSTEM
	shareShared = 2 // SCARD_SHARE_SHARED
	protocolT0  = 1 // SCARD_PROTOCOL_T0
	protocolT1  = 2 // SCARD_PROTOCOL_T1
	leaveCard   = 0 // SCARD_LEAVE_CARD
	pciLength   = 8 // sizeof(SCARD_IO_REQUEST) as pcscd stores it

	// pcscd's internal readerState bits (pcsclite.h SCARD_ABSENT...).
	stateAbsent  = 0x0002
	statePresent = 0x0004
	statePowered = 0x0010
)

// ErrProtocol reports a message from pcscd that does not fit protocol 4.4:
// a short or inconsistent struct, an oversized length, an unterminated
// reader name. The connection is not usable afterwards. It wraps
// reader.ErrTransport where it reaches callers.
var ErrProtocol = errors.New("pcsc: pcscd protocol violation")

var le = binary.LittleEndian

// header encodes the rxHeader {size, command} that precedes every request.
func header(cmd uint32, size int) []byte {
	b := make([]byte, 8, 8+size)
	le.PutUint32(b[0:], uint32(size))
	le.PutUint32(b[4:], cmd)
	return b
}

// request builds header and body of a request from its 32-bit fields.
func request(cmd uint32, fields ...uint32) []byte {
	b := header(cmd, 4*len(fields))
	for _, f := range fields {
		b = le.AppendUint32(b, f)
	}
	return b
}

func checkLen(what string, b []byte, n int) error {
	if len(b) != n {
		return fmt.Errorf("%w: %s: %d bytes, want %d", ErrProtocol, what, len(b), n)
	}
	return nil
}

// decodeVersion decodes version_struct {int32 major, minor; uint32 rv}.
func decodeVersion(b []byte) (major, minor int32, rv uint32, err error) {
	if err := checkLen("version", b, versionSize); err != nil {
		return 0, 0, 0, err
	}
	return int32(le.Uint32(b[0:])), int32(le.Uint32(b[4:])), le.Uint32(b[8:]), nil
}

// decodeEstablish decodes establish_struct {dwScope, hContext, rv}.
func decodeEstablish(b []byte) (hContext, rv uint32, err error) {
	if err := checkLen("establish", b, establishSize); err != nil {
		return 0, 0, err
	}
	return le.Uint32(b[4:]), le.Uint32(b[8:]), nil
}

// encodeConnect builds the SCARD_CONNECT request.
func encodeConnect(hContext uint32, readerName string) ([]byte, error) {
	if len(readerName) == 0 || len(readerName) >= maxReaderName || bytes.IndexByte([]byte(readerName), 0) >= 0 {
		return nil, fmt.Errorf("pcsc: reader name %q not usable (1 to %d bytes, no NUL)", readerName, maxReaderName-1)
	}
	b := header(cmdConnect, connectSize)
	b = le.AppendUint32(b, hContext)
	var name [maxReaderName]byte
	copy(name[:], readerName)
	b = append(b, name[:]...)
	b = le.AppendUint32(b, shareShared)
	b = le.AppendUint32(b, protocolT0|protocolT1)
	b = le.AppendUint32(b, 0) // hCard
	b = le.AppendUint32(b, 0) // dwActiveProtocol
	b = le.AppendUint32(b, 0) // rv
	return b, nil
}

// decodeConnect decodes connect_struct, returning hCard, the active
// protocol and rv.
func decodeConnect(b []byte) (hCard int32, proto, rv uint32, err error) {
	if err := checkLen("connect", b, connectSize); err != nil {
		return 0, 0, 0, err
	}
	o := 4 + maxReaderName + 8
	return int32(le.Uint32(b[o:])), le.Uint32(b[o+4:]), le.Uint32(b[o+8:]), nil
}

// decodeRV decodes the rv field that ends every small struct.
func decodeRV(what string, b []byte, n int) (uint32, error) {
	if err := checkLen(what, b, n); err != nil {
		return 0, err
	}
	return le.Uint32(b[n-4:]), nil
}

// encodeTransmit builds the SCARD_TRANSMIT request followed by the APDU.
func encodeTransmit(hCard int32, proto uint32, apdu []byte) ([]byte, error) {
	if len(apdu) == 0 || len(apdu) > maxCommand {
		return nil, fmt.Errorf("pcsc: command APDU of %d bytes (want 1 to %d)", len(apdu), maxCommand)
	}
	b := header(cmdTransmit, transmitSize)
	for _, f := range []uint32{uint32(hCard), proto, pciLength, uint32(len(apdu)), proto, pciLength, maxResponse, 0} {
		b = le.AppendUint32(b, f)
	}
	return append(b, apdu...), nil
}

// decodeTransmit decodes transmit_struct and returns the announced
// response length (checked against maxResponse) and rv.
func decodeTransmit(b []byte) (n int, rv uint32, err error) {
	if err := checkLen("transmit", b, transmitSize); err != nil {
		return 0, 0, err
	}
	rv = le.Uint32(b[28:])
	if rv != 0 {
		return 0, rv, nil
	}
	l := le.Uint32(b[24:])
	if l > maxResponse {
		return 0, 0, fmt.Errorf("%w: transmit: response length %d exceeds the %d bytes asked for", ErrProtocol, l, maxResponse)
	}
	return int(l), 0, nil
}

// rawState is one entry of pcscd's reader state table
// (eventhandler.h READER_STATE) as it travels on the wire.
type rawState struct {
	Name     string
	Counter  uint32 // eventCounter: bumped on every card insertion/removal
	State    uint32 // SCARD_ABSENT, SCARD_PRESENT, SCARD_POWERED...
	Sharing  int32  // PCSCLITE_SHARING_*: -1 exclusive, 0 free, >0 shared users
	ATR      []byte
	Protocol uint32
}

// decodeReaderStates decodes the table of PCSCLITE_MAX_READERS_CONTEXTS
// entries that answers CMD_GET_READERS_STATE and CMD_WAIT_READER_STATE_CHANGE.
// Empty slots (name starting with NUL) are skipped.
func decodeReaderStates(b []byte) ([]rawState, error) {
	if err := checkLen("reader states", b, readerStatesLen); err != nil {
		return nil, err
	}
	var out []rawState
	for i := 0; i < maxReaders; i++ {
		e := b[i*readerStateSize : (i+1)*readerStateSize]
		if e[0] == 0 {
			continue
		}
		end := bytes.IndexByte(e[:maxReaderName], 0)
		if end < 0 {
			return nil, fmt.Errorf("%w: reader state %d: name not NUL-terminated", ErrProtocol, i)
		}
		atrLen := le.Uint32(e[176:])
		if atrLen > maxATRSize {
			return nil, fmt.Errorf("%w: reader state %d: ATR length %d > %d", ErrProtocol, i, atrLen, maxATRSize)
		}
		out = append(out, rawState{
			Name:     string(e[:end]),
			Counter:  le.Uint32(e[128:]),
			State:    le.Uint32(e[132:]),
			Sharing:  int32(le.Uint32(e[136:])),
			ATR:      bytes.Clone(e[140 : 140+atrLen]),
			Protocol: le.Uint32(e[180:]),
		})
	}
	return out, nil
}
