package ui_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

func TestReadAmount(t *testing.T) {
	for _, tc := range []struct {
		keys    string
		want    int64
		wantErr error
	}{
		{"12.5\n", 1250, nil},
		{"12.50\n", 1250, nil},
		{"0.05\n", 5, nil},
		{"\n12\n", 1200, nil},      // Enter on nothing is ignored
		{"0\n5\n", 500, nil},       // Enter on zero is ignored
		{"1.234\n", 123, nil},      // a third decimal is ignored
		{"1..2\n", 120, nil},       // a second point is ignored
		{"12\b3\n", 130 * 10, nil}, // backspace
		{"\b\b7\n", 700, nil},      // backspace on nothing
		{"999999\n", 9999900, nil}, // the sixth yuan digit would pass MaxAmount
		{"99999.99\n", ui.MaxAmount, nil},
		{"12C", 0, ui.ErrCancelled},
		{"C12\n", 0, ui.ErrCancelled},
	} {
		t.Run(strings.ReplaceAll(tc.keys, "\n", "⏎"), func(t *testing.T) {
			s := uitest.New()
			s.Type(tc.keys)
			got, err := s.ReadAmount(context.Background())
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("ReadAmount = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReadPIN(t *testing.T) {
	for _, tc := range []struct {
		keys    string
		maxLen  int
		want    string
		wantErr error
	}{
		{"123456\n", 6, "123456", nil},
		{"12345678\n", 6, "123456", nil}, // digits past maxLen ignored
		{"\n12\b34\n", 6, "134", nil},
		{"1.2\n", 6, "12", nil},                     // no decimal point in a PIN
		{"1234567890123\n", 0, "123456789012", nil}, // 0 means MaxPINLen
		{"12C", 6, "", ui.ErrCancelled},
	} {
		t.Run(strings.ReplaceAll(tc.keys, "\n", "⏎"), func(t *testing.T) {
			s := uitest.New()
			s.Type(tc.keys)
			pin, err := s.ReadPIN(context.Background(), tc.maxLen)
			if !errors.Is(err, tc.wantErr) || pin.Reveal() != tc.want {
				t.Fatalf("ReadPIN = %q, %v; want %q, %v", pin.Reveal(), err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestEntryTimeout(t *testing.T) {
	s := uitest.New()
	s.Type("12")
	s.QueueTimeout()
	if _, err := s.ReadAmount(context.Background()); !errors.Is(err, ui.ErrTimeout) {
		t.Fatalf("queued timeout: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	_, err := s.ReadPIN(ctx, 6)
	if !errors.Is(err, ui.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v, want ErrTimeout wrapping DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := s.ReadAmount(ctx); !errors.Is(err, context.Canceled) || errors.Is(err, ui.ErrTimeout) {
		t.Fatalf("cancelled ctx: %v, want context.Canceled", err)
	}
}

func TestPINEchoShowsNoDigits(t *testing.T) {
	s := uitest.New()
	s.Type("98\b76\n")
	var echoed []int
	pin, err := ui.ReadPINFrom(context.Background(), s, 6, func(n int) { echoed = append(echoed, n) })
	if err != nil || pin.Reveal() != "976" {
		t.Fatalf("pin %q err %v", pin.Reveal(), err)
	}
	if want := []int{1, 2, 1, 2, 3}; len(echoed) != len(want) {
		t.Fatalf("echo %v, want %v", echoed, want)
	} else {
		for i := range want {
			if echoed[i] != want[i] {
				t.Fatalf("echo %v, want %v", echoed, want)
			}
		}
	}
	pin.Wipe()
	if pin.Reveal() == "976" {
		t.Error("Wipe left the digits")
	}
}
