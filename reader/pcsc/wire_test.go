package pcsc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/openykt/yktd/reader"
)

// stateTable builds a reader table with the given entries.
func stateTable(entries ...rawState) []byte {
	b := make([]byte, readerStatesLen)
	for i, e := range entries {
		o := i * readerStateSize
		copy(b[o:o+maxReaderName], e.Name)
		le.PutUint32(b[o+128:], e.Counter)
		le.PutUint32(b[o+132:], e.State)
		le.PutUint32(b[o+136:], uint32(e.Sharing))
		copy(b[o+140:o+173], e.ATR)
		le.PutUint32(b[o+176:], uint32(len(e.ATR)))
		le.PutUint32(b[o+180:], e.Protocol)
	}
	return b
}

func TestDecodeReaderStates(t *testing.T) {
	good := stateTable(
		rawState{Name: "Virtual PCD 00 00", Counter: 1, State: statePresent | statePowered, Sharing: 1, ATR: testATR, Protocol: protocolT1},
		rawState{Name: "Virtual PCD 00 01", State: stateAbsent},
	)
	st, err := decodeReaderStates(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Name != "Virtual PCD 00 00" || !bytes.Equal(st[0].ATR, testATR) || st[0].Counter != 1 || st[1].State != stateAbsent {
		t.Fatalf("decoded %+v", st)
	}
	rs := statusesFromRaw(st)
	if !rs[0].Present || !rs[0].InUse || rs[0].Mute || rs[1].Present {
		t.Fatalf("statuses %+v", rs)
	}

	noNUL := stateTable(rawState{Name: "x"})
	for i := range maxReaderName {
		noNUL[i] = 'A'
	}
	longATR := stateTable(rawState{Name: "x"})
	le.PutUint32(longATR[176:], 34)

	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"short", good[:len(good)-1]},
		{"long", append(bytes.Clone(good), 0)},
		{"empty", nil},
		{"name without NUL", noNUL},
		{"ATR length 34", longATR},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeReaderStates(tt.in); !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want ErrProtocol", err)
			}
		})
	}
}

func TestDecodeTransmit(t *testing.T) {
	mk := func(n, rv uint32) []byte {
		b := make([]byte, transmitSize)
		le.PutUint32(b[24:], n)
		le.PutUint32(b[28:], rv)
		return b
	}
	tests := []struct {
		name    string
		in      []byte
		wantN   int
		wantRV  uint32
		wantErr error
	}{
		{"ok", mk(4, 0), 4, 0, nil},
		{"removed", mk(0xFFFFFFFF, rvRemovedCard), 0, rvRemovedCard, nil},
		{"huge length", mk(0xFFFFFFFF, 0), 0, 0, ErrProtocol},
		{"just over", mk(maxResponse+1, 0), 0, 0, ErrProtocol},
		{"short struct", mk(4, 0)[:31], 0, 0, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rv, err := decodeTransmit(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantN || rv != tt.wantRV {
				t.Fatalf("n, rv = %d, %#x; want %d, %#x", n, rv, tt.wantN, tt.wantRV)
			}
		})
	}
}

func TestEncodeConnectRejectsBadNames(t *testing.T) {
	for _, n := range []string{"", string(make([]byte, 128)), "a\x00b"} {
		if _, err := encodeConnect(1, n); err == nil {
			t.Errorf("encodeConnect(%q) accepted", n)
		}
	}
	b, err := encodeConnect(7, "Virtual PCD 00 00")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8+connectSize || le.Uint32(b[0:]) != connectSize || le.Uint32(b[4:]) != cmdConnect || le.Uint32(b[8:]) != 7 {
		t.Fatalf("connect request % X", b[:12])
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		rv   uint32
		want error
	}{
		{rvRemovedCard, reader.ErrCardRemoved},
		{rvNoSmartcard, reader.ErrCardRemoved},
		{rvResetCard, reader.ErrCardRemoved},
		{rvUnpoweredCard, reader.ErrCardRemoved},
		{rvUnresponsiveCard, reader.ErrCardRemoved},
		{rvTimeout, reader.ErrTimeout},
		{rvNotTransacted, reader.ErrTransport},
		{rvNoService, reader.ErrTransport},
		{0x80100099, reader.ErrTransport},
	}
	for _, tt := range tests {
		err := rvError("transmit", tt.rv)
		if !errors.Is(err, tt.want) {
			t.Errorf("rv %#x: %v does not wrap %v", tt.rv, err, tt.want)
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != tt.rv {
			t.Errorf("rv %#x: not an *Error with the code: %v", tt.rv, err)
		}
	}
	if rvError("x", rvSuccess) != nil {
		t.Error("success mapped to an error")
	}
}

// scripted is a fake daemon: reads come from a fixed byte stream, writes
// are discarded.
type scripted struct {
	io.Reader
}

func (scripted) Write(p []byte) (int, error) { return len(p), nil }

// runSession drives every client call the driver makes against a daemon
// that answers with the bytes of in.
func runSession(in []byte) {
	c := &wireConn{rw: scripted{bytes.NewReader(in)}}
	ctx := context.Background()
	if c.handshake(ctx) != nil {
		return
	}
	_, _ = c.readerStates(ctx)
	h, proto, err := c.connect(ctx, "Virtual PCD 00 00")
	if err == nil {
		_, _ = c.transmit(ctx, h, proto, []byte{0x00, 0xA4, 0x04, 0x00, 0x00})
		_ = c.status(ctx, h)
		_ = c.disconnect(ctx, h)
	}
	_ = c.waitChange(ctx, nil)
}

// daemonReplies is a well-formed daemon conversation for runSession.
func daemonReplies() []byte {
	var b []byte
	b = le.AppendUint32(le.AppendUint32(le.AppendUint32(b, 4), 4), 0)      // version 4.4 ok
	b = le.AppendUint32(le.AppendUint32(le.AppendUint32(b, 2), 0x1234), 0) // context
	b = append(b, stateTable(rawState{Name: "Virtual PCD 00 00", State: statePresent, ATR: testATR})...)
	conn := make([]byte, connectSize)
	le.PutUint32(conn[4+maxReaderName+8:], 0x55)
	le.PutUint32(conn[4+maxReaderName+12:], protocolT1)
	b = append(b, conn...)
	tr := make([]byte, transmitSize)
	le.PutUint32(tr[24:], 2)
	b = append(append(b, tr...), 0x90, 0x00)
	b = append(b, make([]byte, statusSize)...)
	b = append(b, make([]byte, disconnectSize)...)
	b = append(b, stateTable()...)
	return append(b, make([]byte, waitSize)...)
}

func TestClientAgainstScriptedDaemon(t *testing.T) {
	c := &wireConn{rw: scripted{bytes.NewReader(daemonReplies())}}
	ctx := context.Background()
	if err := c.handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if c.hContext != 0x1234 {
		t.Fatalf("context %#x", c.hContext)
	}
	st, err := c.readerStates(ctx)
	if err != nil || len(st) != 1 {
		t.Fatalf("states %+v, %v", st, err)
	}
	h, proto, err := c.connect(ctx, "Virtual PCD 00 00")
	if err != nil || h != 0x55 || proto != protocolT1 {
		t.Fatalf("connect = %#x %d %v", h, proto, err)
	}
	rsp, err := c.transmit(ctx, h, proto, []byte{0x00, 0xA4, 0x04, 0x00, 0x00})
	if err != nil || !bytes.Equal(rsp, []byte{0x90, 0x00}) {
		t.Fatalf("transmit = % X, %v", rsp, err)
	}
	// A truncated daemon is a transport fault, and the connection stays dead.
	c = &wireConn{rw: scripted{bytes.NewReader(daemonReplies()[:20])}}
	if err := c.handshake(ctx); !errors.Is(err, reader.ErrTransport) {
		t.Fatalf("truncated handshake = %v, want ErrTransport", err)
	}
	if _, err := c.readerStates(ctx); !errors.Is(err, reader.ErrTransport) {
		t.Fatalf("after failure = %v, want ErrTransport", err)
	}
}

// FuzzWire runs a whole client session against a daemon that answers with
// arbitrary bytes: no panic, no allocation beyond the protocol's bounds.
func FuzzWire(f *testing.F) {
	f.Add(daemonReplies())
	f.Add(daemonReplies()[:100])
	f.Fuzz(func(t *testing.T, in []byte) {
		runSession(in)
		_, _ = decodeReaderStates(in)
		_, _, _ = decodeTransmit(in)
		_, _, _, _ = decodeConnect(in)
		_, _, _, _ = decodeVersion(in)
	})
}
