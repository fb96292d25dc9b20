package uitest_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// flow is a miniature POS: amount, PIN, outcome.
func flow(ctx context.Context, d ui.Display, k ui.Keypad, bz ui.Buzzer) error {
	fen, err := k.ReadAmount(ctx)
	if err != nil {
		_ = d.Show(ctx, ui.EntryCancelled())
		_ = bz.Beep(false)
		return err
	}
	_ = d.Show(ctx, ui.EnterPIN(fen))
	pin, err := k.ReadPIN(ctx, 6)
	if err != nil {
		_ = d.Show(ctx, ui.EntryCancelled())
		_ = bz.Beep(false)
		return err
	}
	defer pin.Wipe()
	if pin.Reveal() != "123456" {
		_ = d.Show(ctx, ui.WrongPIN(2))
		_ = bz.Beep(false)
		return nil
	}
	_ = d.Show(ctx, ui.Approved(fen, 10000-fen))
	_ = bz.Beep(true)
	return d.Clear(ctx)
}

func TestSimDrivesAFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := uitest.New()
	done := make(chan error, 1)
	go func() { done <- flow(ctx, s, s, s) }()
	// Keys go in only when the flow asks, as a cashier and a holder would.
	if err := s.AwaitReading(ctx); err != nil {
		t.Fatal(err)
	}
	s.QueueAmount(6000)
	m, err := s.WaitShown(ctx, ui.CodeEnterPIN)
	if err != nil {
		t.Fatal(err)
	}
	if m.Amount != 6000 {
		t.Errorf("PIN prompt amount = %d", m.Amount)
	}
	if err := s.AwaitReading(ctx); err != nil {
		t.Fatal(err)
	}
	s.QueuePIN("123456")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := s.Codes(), []ui.Code{ui.CodeEnterPIN, ui.CodeApproved}; !reflect.DeepEqual(got, want) {
		t.Errorf("codes %v, want %v", got, want)
	}
	if last, ok := s.Last(); !ok || last.Balance != 4000 {
		t.Errorf("last = %+v", last)
	}
	if !reflect.DeepEqual(s.Beeps(), []bool{true}) || s.Clears() != 1 || s.Pending() != 0 {
		t.Errorf("beeps %v clears %d pending %d", s.Beeps(), s.Clears(), s.Pending())
	}
}

func TestSimCancelAndTimeout(t *testing.T) {
	ctx := context.Background()
	s := uitest.New()
	s.QueueAmount(1250)
	s.QueueCancel()
	if err := flow(ctx, s, s, s); !errors.Is(err, ui.ErrCancelled) {
		t.Fatalf("cancel at the PIN: %v", err)
	}
	s.QueueTimeout()
	if err := flow(ctx, s, s, s); !errors.Is(err, ui.ErrTimeout) {
		t.Fatalf("timeout at the amount: %v", err)
	}
	want := []ui.Code{ui.CodeEnterPIN, ui.CodeEntryCancelled, ui.CodeEntryCancelled}
	if got := s.Codes(); !reflect.DeepEqual(got, want) {
		t.Errorf("codes %v, want %v", got, want)
	}
	if !reflect.DeepEqual(s.Beeps(), []bool{false, false}) {
		t.Errorf("beeps %v", s.Beeps())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.WaitShown(cctx, ui.CodeApproved); err == nil {
		t.Error("WaitShown found a message never shown")
	}
}

func TestTypePanicsOnATypo(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Type accepted 'x'")
		}
	}()
	uitest.New().Type("12x")
}
