package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
	"github.com/openykt/yktd/terminal"
)

// driverSide plays pcscd's vpcd driver: it listens where the vcard dials.
type driverSide struct {
	t  *testing.T
	ln net.Listener
}

func newDriverSide(t *testing.T) *driverSide {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &driverSide{t: t, ln: ln}
}

func (d *driverSide) port() string { return strconv.Itoa(d.ln.Addr().(*net.TCPAddr).Port) }

// accept waits (bounded) for the card to enter the field.
func (d *driverSide) accept() net.Conn {
	d.t.Helper()
	_ = d.ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	c, err := d.ln.Accept()
	if err != nil {
		d.t.Fatalf("the card never entered the field: %v", err)
	}
	d.t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends one frame and reads the answer.
func exchange(c net.Conn, frame []byte) ([]byte, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := vpcd.WriteFrame(c, frame); err != nil {
		return nil, err
	}
	return vpcd.ReadFrame(c)
}

// TestRigVCardControl: `yktd rig vcard --control` gives a virtual card
// behind vpcd the controls the simulator's cards have, on the same paths
// and with the same credential rule (terminal.NewControlClient reads it):
// with --control the card waits outside the field until a tap, a remove
// takes it away, a fault armed on it fires on the command it names, and
// its state is the state file's. Without the credential it refuses.
func TestRigVCardControl(t *testing.T) {
	dir := t.TempDir()
	d := sim.Catalogue()[0]
	c, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "alice.json")
	if err := c.Save(state); err != nil {
		t.Fatal(err)
	}
	drv := newDriverSide(t)
	ctlDir := filepath.Join(dir, "vcard")
	r := startRun(t, 60*time.Second, nil, "rig", "vcard", "--state", state, "--port", drv.port(), "--control", "127.0.0.1:0", "--dir", ctlDir)
	ctl := newCtl(t, ctlDir, controlAddr(t, ctlDir, r.done))

	// No credential, no tap.
	resp, err := http.Post(ctl.c.URL("/sim/readers/vpcd/tap"), "application/json", strings.NewReader(`{"card":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tap without the credential: %s", resp.Status)
	}

	ctl.post("/sim/readers/vpcd/tap", map[string]string{"card": "alice"})
	conn := drv.accept()
	if atr, err := exchange(conn, []byte{vpcd.CtrlATR}); err != nil || !bytes.Equal(atr, c.ATR()) {
		t.Fatalf("ATR % X, %v", atr, err)
	}
	// SELECT the purse, then GET BALANCE: the card answers.
	sel := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(sim.DefaultAID))}, sim.DefaultAID...)
	if resp, err := exchange(conn, sel); err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT: % X %v", resp, err)
	}
	// A fault armed through the control fires on the next GET BALANCE:
	// the card leaves the field without an answer.
	ctl.post("/sim/cards/alice/faults", map[string]any{"kind": "tear-before", "ins": "balance", "nth": 1})
	if resp, err := exchange(conn, []byte{0x80, 0x5C, 0x00, 0x02, 0x04}); err == nil {
		t.Fatalf("GET BALANCE with a tear armed answered % X", resp)
	}
	var info sim.CardInfo
	if err := ctl.c.Get(context.Background(), "/sim/cards/alice", &info); err != nil {
		t.Fatal(err)
	}
	if info.Status == nil || info.Status.Balance != d.Balance || len(info.Faults) != 0 {
		t.Fatalf("GET /sim/cards/alice: %+v", info)
	}

	// Torn: it is out of the field until tapped again; remove keeps it out.
	ctl.post("/sim/readers/vpcd/tap", map[string]string{"card": "alice"})
	conn2 := drv.accept()
	if _, err := exchange(conn2, []byte{vpcd.CtrlATR}); err != nil {
		t.Fatal(err)
	}
	ctl.post("/sim/readers/vpcd/remove", nil)
	_ = conn2.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := vpcd.ReadFrame(conn2); err == nil {
		t.Fatal("the connection is still open after remove")
	}
	var readers []sim.ReaderInfo
	if err := ctl.c.Get(context.Background(), "/sim/readers", &readers); err != nil || len(readers) != 1 || readers[0].Card != "" {
		t.Fatalf("GET /sim/readers after remove: %+v %v", readers, err)
	}
	var ce *terminal.ControlError
	if err := ctl.c.Post(context.Background(), "/sim/readers/vpcd/tap", map[string]string{"card": "bob"}, nil); !errors.As(err, &ce) || ce.Status != 404 {
		t.Errorf("tap of a card it does not have: %v", err)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(ctlDir, "control.addr")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control.addr left behind: %v", err)
	}
}
