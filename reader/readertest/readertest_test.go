package readertest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
)

func TestScript(t *testing.T) {
	ctx := context.Background()
	c := readertest.NewCard(
		readertest.Step{Cmd: "80 5C 00 02 04", Resp: "00001000 9000"},
		readertest.Step{Cmd: "", Resp: "6A82"},
		readertest.Step{Cmd: "00B0950000", Err: reader.ErrTimeout},
	)
	data, err := reader.Transceive(ctx, c, reader.Command{CLA: 0x80, INS: 0x5C, P2: 2, Le: 4, HasLe: true})
	if err != nil || len(data) != 4 {
		t.Fatalf("step 1: %X %v", data, err)
	}
	_, err = reader.Transceive(ctx, c, reader.Command{INS: 0xA4})
	var se *reader.StatusError
	if !errors.As(err, &se) || se.SW != reader.SWFileNotFound {
		t.Fatalf("step 2: %v", err)
	}
	if c.Remaining() != 1 || c.Done() == nil {
		t.Fatal("Done before the end")
	}
	if _, err = c.Transmit(ctx, readertest.Hex("00B0950000")); !errors.Is(err, reader.ErrTimeout) {
		t.Fatalf("step 3: %v", err)
	}
	if err := c.Done(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Transmit(ctx, []byte{0}); !errors.Is(err, readertest.ErrUnexpectedCommand) {
		t.Fatalf("after script: %v", err)
	}
	if log := c.Log(); len(log) != 4 || log[0].String() != "805C000204 -> 000010009000" {
		t.Fatalf("log = %v", log)
	}
}

func TestMismatch(t *testing.T) {
	c := readertest.NewCard(readertest.Step{Cmd: "0102", Resp: "9000"})
	if _, err := c.Transmit(context.Background(), []byte{1, 3}); !errors.Is(err, readertest.ErrUnexpectedCommand) {
		t.Fatalf("err = %v", err)
	}
}

func TestRemoveAfter(t *testing.T) {
	calls := 0
	c := &readertest.Card{RemoveAfter: 2, Handler: func([]byte) ([]byte, error) { calls++; return []byte{0x90, 0}, nil }}
	ctx := context.Background()
	for i := range 3 {
		_, err := c.Transmit(ctx, []byte{byte(i)})
		if (i < 2) != (err == nil) || (i == 2 && !errors.Is(err, reader.ErrCardRemoved)) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if calls != 2 {
		t.Fatalf("handler saw %d calls", calls)
	}
}

func TestTearAt(t *testing.T) {
	calls := 0
	c := &readertest.Card{TearAt: 2, Handler: func([]byte) ([]byte, error) { calls++; return []byte{0x90, 0}, nil }}
	ctx := context.Background()
	if _, err := c.Transmit(ctx, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Transmit(ctx, []byte{2}); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("tear: %v", err)
	}
	if calls != 2 {
		t.Fatalf("torn command did not reach the card: %d calls", calls)
	}
	if _, err := c.Transmit(ctx, []byte{3}); !errors.Is(err, reader.ErrCardRemoved) || calls != 2 {
		t.Fatalf("after tear: %v, %d calls", err, calls)
	}
}

func TestRemoveAndContext(t *testing.T) {
	c := &readertest.Card{Handler: func([]byte) ([]byte, error) { return []byte{0x90, 0}, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Transmit(ctx, []byte{1}); !errors.Is(err, reader.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	c.Remove()
	if _, err := c.Transmit(context.Background(), []byte{1}); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("removed: %v", err)
	}
}

// TestNextEvent: the event is returned when of the kind wanted.
func TestNextEvent(t *testing.T) {
	events := make(chan reader.Event, 1)
	events <- reader.Event{Kind: reader.CardRemoved, Reader: "r"}
	if ev := readertest.NextEvent(t, events, reader.CardRemoved, time.Minute); ev.Reader != "r" {
		t.Fatalf("event %v", ev)
	}
}
