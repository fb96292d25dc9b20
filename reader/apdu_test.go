package reader

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"case 1", Command{CLA: 0x00, INS: 0xA4, P1: 0x00, P2: 0x0C}, "00a4000c"},
		{"case 2", Command{CLA: 0x80, INS: 0x5C, P1: 0x00, P2: 0x02, Le: 4, HasLe: true}, "805c000204"},
		{"case 2 le 256", Command{CLA: 0x00, INS: 0xB0, P1: 0x95, HasLe: true}, "00b0950000"},
		{"case 3", Command{CLA: 0x00, INS: 0x20, Data: []byte{0x12, 0x34, 0x56}}, "0020000003123456"},
		{"case 4", Command{CLA: 0x00, INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00}, HasLe: true}, "00a4040002a00000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(tt.cmd.Bytes()); got != tt.want {
				t.Errorf("Bytes() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCommandBytesPanicsOnLongData(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for 256 bytes of data")
		}
	}()
	Command{Data: make([]byte, 256)}.Bytes()
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		data    string
		sw      SW
		wantErr error
	}{
		{"empty", "", "", 0, ErrMalformed},
		{"one byte", "90", "", 0, ErrMalformed},
		{"sw only", "9000", "", SWOK, nil},
		{"data", "0102039000", "010203", SWOK, nil},
		{"error sw", "6a82", "", SWFileNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := hex.DecodeString(tt.raw)
			r, err := ParseResponse(raw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if hex.EncodeToString(r.Data) != tt.data || r.SW != tt.sw {
				t.Errorf("got data %x sw %v, want %s %v", r.Data, r.SW, tt.data, tt.sw)
			}
		})
	}
}

func TestSWString(t *testing.T) {
	tests := []struct {
		sw   SW
		want string
	}{
		{SWOK, "9000 (ok)"},
		{0x6A82, "6A82 (file or application not found)"},
		{0x6110, "6110 (16 bytes available)"},
		{0x6C08, "6C08 (wrong Le, exact length 8)"},
		{0x63C2, "63C2 (verification failed, 2 tries left)"},
		{0x6F00, "6F00"},
	}
	for _, tt := range tests {
		if got := tt.sw.String(); got != tt.want {
			t.Errorf("SW(%04X).String() = %q, want %q", uint16(tt.sw), got, tt.want)
		}
	}
	if n, ok := SW(0x63C1).Retries(); !ok || n != 1 {
		t.Errorf("Retries(63C1) = %d, %v; want 1, true", n, ok)
	}
	if _, ok := SW(0x6983).Retries(); ok {
		t.Error("Retries(6983) reported retries")
	}
}

// scriptCard answers commands from a script in order and records what it got.
type scriptCard struct {
	t     *testing.T
	steps []struct{ want, resp string }
	err   error // returned once the script is exhausted
	got   []string
}

func (c *scriptCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	c.got = append(c.got, hex.EncodeToString(cmd))
	if len(c.steps) == 0 {
		if c.err != nil {
			return nil, c.err
		}
		c.t.Fatalf("unexpected command %x", cmd)
	}
	s := c.steps[0]
	c.steps = c.steps[1:]
	if s.want != hex.EncodeToString(cmd) {
		c.t.Errorf("command = %x, want %s", cmd, s.want)
	}
	b, _ := hex.DecodeString(s.resp)
	return b, nil
}

func card(t *testing.T, pairs ...string) *scriptCard {
	c := &scriptCard{t: t}
	for i := 0; i+1 < len(pairs); i += 2 {
		c.steps = append(c.steps, struct{ want, resp string }{pairs[i], pairs[i+1]})
	}
	return c
}

func TestExchange(t *testing.T) {
	ctx := context.Background()
	getBalance := Command{CLA: 0x80, INS: 0x5C, P2: 0x02, Le: 4, HasLe: true, Name: "GET BALANCE"}

	t.Run("plain", func(t *testing.T) {
		c := card(t, "805c000204", "000003e89000")
		data, err := Transceive(ctx, c, getBalance)
		if err != nil || hex.EncodeToString(data) != "000003e8" {
			t.Fatalf("Transceive = %x, %v", data, err)
		}
	})
	t.Run("61xx chained", func(t *testing.T) {
		c := card(t, "00a4040002a000", "6104", "00c0000004", "010203046102", "00c0000002", "05069000")
		data, err := Transceive(ctx, c, Command{INS: 0xA4, P1: 4, Data: []byte{0xA0, 0x00}})
		if err != nil || hex.EncodeToString(data) != "010203040506" {
			t.Fatalf("Transceive = %x, %v", data, err)
		}
	})
	t.Run("6Cxx resend", func(t *testing.T) {
		c := card(t, "00b0950000", "6c1e", "00b095001e", strings.Repeat("ab", 30)+"9000")
		data, err := Transceive(ctx, c, Command{INS: 0xB0, P1: 0x95, HasLe: true})
		if err != nil || len(data) != 30 {
			t.Fatalf("Transceive = %x, %v", data, err)
		}
	})
	t.Run("status error", func(t *testing.T) {
		c := card(t, "805c000204", "9401")
		_, err := Transceive(ctx, c, getBalance)
		var se *StatusError
		if !errors.As(err, &se) || se.SW != SWBalanceInsufficient {
			t.Fatalf("err = %v, want StatusError 9401", err)
		}
		if !strings.Contains(err.Error(), "GET BALANCE") {
			t.Errorf("error %q does not name the command", err)
		}
	})
	t.Run("removed", func(t *testing.T) {
		c := &scriptCard{t: t, err: fmt.Errorf("sim: %w", ErrCardRemoved)}
		_, err := Transceive(ctx, c, getBalance)
		if !errors.Is(err, ErrCardRemoved) {
			t.Fatalf("err = %v, want ErrCardRemoved", err)
		}
		var se *StatusError
		if errors.As(err, &se) {
			t.Error("removal reported as a status word")
		}
	})
	t.Run("removed during GET RESPONSE", func(t *testing.T) {
		c := card(t, "805c000204", "6104")
		c.err = ErrCardRemoved
		_, err := Exchange(ctx, c, getBalance)
		if !errors.Is(err, ErrCardRemoved) {
			t.Fatalf("err = %v, want ErrCardRemoved", err)
		}
	})
	t.Run("short response", func(t *testing.T) {
		c := card(t, "805c000204", "90")
		_, err := Exchange(ctx, c, getBalance)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("GET RESPONSE refused after 61xx", func(t *testing.T) {
		// The card executed the command (61xx: response waiting) but the
		// response was lost: this must not look like the command's own
		// refusal (a debit that happened would be booked as refused).
		c := card(t, "805401000100", "6108", "00c0000008", "6985")
		_, err := Exchange(ctx, c, Command{CLA: 0x80, INS: 0x54, P1: 1, Data: []byte{0}})
		var se *StatusError
		if errors.As(err, &se) {
			t.Fatalf("err = %v: reported as a status word of the command", err)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("endless 61xx", func(t *testing.T) {
		c := card(t, "805c000204", "6101")
		for i := 0; i < maxChained; i++ {
			c.steps = append(c.steps, struct{ want, resp string }{"00c0000001", "006101"})
		}
		_, err := Exchange(ctx, c, getBalance)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
		if len(c.got) != maxChained+1 {
			t.Errorf("sent %d commands, want %d", len(c.got), maxChained+1)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{0x01, 0x02, 0x6A, 0x82})
	f.Add([]byte{0x61})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := ParseResponse(raw)
		if err != nil {
			if len(raw) >= 2 {
				t.Fatalf("error for %d bytes: %v", len(raw), err)
			}
			return
		}
		if !bytes.Equal(append(r.Data, r.SW.SW1(), r.SW.SW2()), raw) {
			t.Fatalf("data+sw %x != raw %x", r.Data, raw)
		}
		_ = r.SW.String()
	})
}
