package pn532sim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/ptytest"
	"github.com/openykt/yktd/reader/pn532"
	"github.com/openykt/yktd/reader/pn532/pn532sim"
)

// host is the test's side of the line: raw frames on the slave.
type host struct {
	t *testing.T
	f *os.File
	d pn532.Decoder
}

func newModule(t *testing.T) (*pn532sim.Module, *host) {
	t.Helper()
	p, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(p.SlavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	mod := pn532sim.New(p.Master)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mod.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel = %v", err)
		}
		slave.Close()
		p.Close()
	})
	return mod, &host{t: t, f: slave}
}

func (h *host) send(b []byte) {
	h.t.Helper()
	if _, err := h.f.Write(b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) command(data ...byte) []byte {
	h.t.Helper()
	fr, err := pn532.EncodeInfo(pn532.TFIHost, data)
	if err != nil {
		h.t.Fatal(err)
	}
	return fr
}

// frame reads the next frame; ok false when none came within wait.
func (h *host) frame(wait time.Duration) (pn532.Frame, error, bool) {
	h.t.Helper()
	h.f.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 300)
	for {
		if f, err := h.d.Next(); !errors.Is(err, pn532.ErrIncomplete) {
			return f, err, true
		}
		n, err := h.f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return pn532.Frame{}, nil, false
		}
		if err != nil && !errors.Is(err, io.EOF) {
			h.t.Fatal(err)
		}
		h.d.Write(buf[:n])
	}
}

func (h *host) want(kind pn532.Kind) pn532.Frame {
	h.t.Helper()
	f, err, ok := h.frame(10 * time.Second)
	if !ok || err != nil || f.Kind != kind {
		h.t.Fatalf("got %+v, %v, %v; want a %v frame", f, err, ok, kind)
	}
	return f
}

// TestSleepsUntilWoken: like a PN532 on HSU, the module ignores frames
// until it sees 0x55, then ACKs and answers.
func TestSleepsUntilWoken(t *testing.T) {
	mod, h := newModule(t)
	h.send(h.command(pn532.CmdGetFirmwareVersion))
	if f, err, ok := h.frame(50 * time.Millisecond); ok {
		t.Fatalf("asleep module answered %+v, %v", f, err)
	}
	h.send(append([]byte{0x55, 0x55, 0, 0, 0, 0, 0, 0}, h.command(pn532.CmdGetFirmwareVersion)...))
	h.want(pn532.KindACK)
	f := h.want(pn532.KindInfo)
	if want := append([]byte{0x03}, pn532sim.Firmware...); f.TFI != pn532.TFIModule || !bytes.Equal(f.Data, want) {
		t.Fatalf("firmware frame %+v", f)
	}
	if st := mod.Stats(); st.Wakeups != 1 || st.Commands[pn532.CmdGetFirmwareVersion] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNACKResends: a bad response is resent good on the host's NACK; an
// unknown command gets the error frame; a bad host frame is ignored.
func TestNACKResends(t *testing.T) {
	mod, h := newModule(t)
	mod.Arm(pn532sim.Fault{Kind: pn532sim.BadChecksum, Cmd: pn532.CmdGetFirmwareVersion})
	h.send(append([]byte{0x55, 0x55, 0, 0}, h.command(pn532.CmdGetFirmwareVersion)...))
	h.want(pn532.KindACK)
	if _, err, ok := h.frame(10 * time.Second); !ok || !errors.Is(err, pn532.ErrChecksum) {
		t.Fatalf("faulty response: %v, %v", err, ok)
	}
	h.send(pn532.NACKFrame)
	if f := h.want(pn532.KindInfo); f.Data[0] != 0x03 {
		t.Fatalf("resent %+v", f)
	}

	bad := h.command(pn532.CmdGetFirmwareVersion)
	bad[len(bad)-2]++
	h.send(bad)
	h.send(h.command(0x7E)) // no such command
	h.want(pn532.KindACK)
	h.want(pn532.KindError)
	if st := mod.Stats(); st.BadFrames != 1 || st.NACKs != 1 {
		t.Fatalf("stats %+v", st)
	}
}
