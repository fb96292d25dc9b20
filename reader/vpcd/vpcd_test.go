package vpcd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// testCard is a tiny responder: it echoes the APDU header with 9000,
// answers 6D00 to INS 0xEE... and tears on INS 0xDD.
type testCard struct {
	mu     sync.Mutex
	resets int
}

var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

func (c *testCard) ATR() []byte { return testATR }
func (c *testCard) Reset() {
	c.mu.Lock()
	c.resets++
	c.mu.Unlock()
}
func (c *testCard) Respond(cmd []byte) ([]byte, error) {
	if len(cmd) >= 2 && cmd[1] == 0xDD {
		return nil, errors.New("torn")
	}
	return append(append([]byte(nil), cmd[:min(4, len(cmd))]...), 0x90, 0x00), nil
}

// fakeVPCD is the driver side: it accepts one connection at a time.
type fakeVPCD struct {
	t  *testing.T
	ln net.Listener
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln}
}

func (f *fakeVPCD) accept() net.Conn {
	f.t.Helper()
	c, err := f.ln.Accept()
	if err != nil {
		f.t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	f.t.Cleanup(func() { c.Close() })
	return c
}

func exchange(t *testing.T, c net.Conn, frame []byte) []byte {
	t.Helper()
	if err := WriteFrame(c, frame); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFrame(c)
	if err != nil {
		t.Fatalf("frame % X: %v", frame, err)
	}
	return got
}

func startSlot(t *testing.T, s *Slot) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestSlotPresentExchangeRemove(t *testing.T) {
	f := newFakeVPCD(t)
	states := make(chan State, 16)
	s := &Slot{Addr: f.ln.Addr().String(), OnChange: func(st State) { states <- st }}
	startSlot(t, s)
	card := &testCard{}
	s.Present(card)
	c := f.accept()

	if err := WriteFrame(c, []byte{CtrlPowerOn}); err != nil {
		t.Fatal(err)
	}
	if got := exchange(t, c, []byte{CtrlATR}); !bytes.Equal(got, testATR) {
		t.Fatalf("ATR = % X, want % X", got, testATR)
	}
	if got, want := exchange(t, c, []byte{0x00, 0xA4, 0x04, 0x00, 0x00}), []byte{0x00, 0xA4, 0x04, 0x00, 0x90, 0x00}; !bytes.Equal(got, want) {
		t.Fatalf("response = % X, want % X", got, want)
	}
	if err := WriteFrame(c, []byte{CtrlReset}); err != nil {
		t.Fatal(err)
	}
	exchange(t, c, []byte{CtrlATR}) // orders the reset before the check
	card.mu.Lock()
	if card.resets != 2 {
		t.Errorf("resets = %d, want 2 (power on + reset)", card.resets)
	}
	card.mu.Unlock()

	s.Remove()
	if _, err := ReadFrame(c); err == nil {
		t.Fatal("connection still open after Remove")
	}
	waitState(t, states, Empty)

	// Tap again: a new connection.
	s.Present(card)
	c2 := f.accept()
	if got := exchange(t, c2, []byte{CtrlATR}); !bytes.Equal(got, testATR) {
		t.Fatalf("ATR after re-tap = % X", got)
	}
}

func waitState(t *testing.T, ch <-chan State, want State) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st := <-ch:
			if st == want {
				return
			}
		case <-timeout:
			t.Fatalf("state %v never reported", want)
		}
	}
}

func TestSlotTornDropsConnection(t *testing.T) {
	f := newFakeVPCD(t)
	states := make(chan State, 16)
	s := &Slot{Addr: f.ln.Addr().String(), OnChange: func(st State) { states <- st }}
	startSlot(t, s)
	s.Present(&testCard{})
	c := f.accept()
	if err := WriteFrame(c, []byte{0x80, 0xDD, 0x00, 0x00}); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFrame(c); err == nil {
		t.Fatalf("got answer % X from a torn card", b)
	}
	waitState(t, states, Torn)
	// The slot stays empty: no redial until the next Present.
	s.Present(&testCard{})
	c2 := f.accept()
	exchange(t, c2, []byte{CtrlATR})
}

func TestSlotRedialsWithBackoff(t *testing.T) {
	f := newFakeVPCD(t)
	var (
		mu     sync.Mutex
		dials  int
		sleeps []time.Duration
	)
	s := &Slot{
		Addr:    f.ln.Addr().String(),
		Backoff: Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond},
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			mu.Lock()
			dials++
			n := dials
			mu.Unlock()
			if n <= 4 {
				return nil, errors.New("connection refused")
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			return ctx.Err()
		},
	}
	startSlot(t, s)
	s.Present(&testCard{})
	c := f.accept()
	exchange(t, c, []byte{CtrlATR})
	mu.Lock()
	defer mu.Unlock()
	if len(sleeps) != 4 {
		t.Fatalf("slept %d times, want 4: %v", len(sleeps), sleeps)
	}
	for i, d := range sleeps {
		if d < 5*time.Millisecond || d > 40*time.Millisecond {
			t.Errorf("sleep %d = %v, outside [Min/2, Max]", i, d)
		}
	}
	if sleeps[3] < 20*time.Millisecond {
		t.Errorf("backoff did not grow: %v", sleeps)
	}
}

func TestSlotRedialsWhenDriverCloses(t *testing.T) {
	f := newFakeVPCD(t)
	s := &Slot{Addr: f.ln.Addr().String(), Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	startSlot(t, s)
	s.Present(&testCard{})
	c := f.accept()
	exchange(t, c, []byte{CtrlATR})
	c.Close() // pcscd restarted
	c2 := f.accept()
	exchange(t, c2, []byte{CtrlATR})
}

func TestServe(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte // frames from the driver
		want    []byte // bytes the card writes
		wantErr error
	}{
		{"atr", []byte{0, 1, CtrlATR}, append([]byte{0, 5}, testATR...), nil},
		{"power frames are silent", []byte{0, 1, CtrlPowerOn, 0, 1, CtrlPowerOff, 0, 1, CtrlReset}, nil, nil},
		{"apdu", []byte{0, 2, 0x00, 0xB0}, []byte{0, 4, 0x00, 0xB0, 0x90, 0x00}, nil},
		{"torn", []byte{0, 2, 0x80, 0xDD}, nil, ErrTorn},
		{"unknown control", []byte{0, 1, 9}, nil, ErrFrame},
		{"zero length", []byte{0, 0}, nil, ErrFrame},
		{"truncated", []byte{0, 9, 1, 2}, nil, ErrFrame},
		{"half prefix", []byte{0}, nil, ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			rw := struct {
				io.Reader
				io.Writer
			}{bytes.NewReader(tt.in), &out}
			err := Serve(context.Background(), rw, &testCard{})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(out.Bytes(), tt.want) {
				t.Fatalf("wrote % X, want % X", out.Bytes(), tt.want)
			}
		})
	}
}

func TestWriteFrameTooLong(t *testing.T) {
	if err := WriteFrame(&bytes.Buffer{}, make([]byte, MaxFrame+1)); !errors.Is(err, ErrFrame) {
		t.Fatalf("err = %v, want ErrFrame", err)
	}
}

func TestServeStopsOnContext(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, a, &testCard{}) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve = %v, want context.Canceled", err)
	}
}

// FuzzReadFrame feeds arbitrary streams to the frame reader and to Serve:
// neither may panic, and every frame read must re-encode to the bytes it
// came from.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 1, 4})
	f.Add([]byte{0, 5, 0x00, 0xA4, 0x04, 0x00, 0x00, 0, 1, 1})
	f.Add([]byte{0xFF, 0xFF, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			fr, err := ReadFrame(r)
			if err != nil {
				break
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, fr); err != nil {
				t.Fatal(err)
			}
			if len(fr) == 0 || len(fr) > MaxFrame {
				t.Fatalf("frame of %d bytes", len(fr))
			}
		}
		var out bytes.Buffer
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), &out}
		_ = Serve(context.Background(), rw, &testCard{})
	})
}
