package cardread_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/readertest"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/cardread"
)

func TestReadCard(t *testing.T) {
	ctx := context.Background()
	c := demoCard(t, "staff", "", 0)
	rdr := sim.NewReader("sim:read", reader.TechISO14443A)
	events := make(chan reader.Event, 4)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = rdr.Run(cctx, events) }()
	rdr.Tap(c)
	var h reader.Card
	for h == nil {
		if e := <-events; e.Kind == reader.CardPresent {
			h = e.Card
		}
	}
	// An unknown AID first: Read falls back to the next one.
	info, err := cardread.Read(ctx, h, [][]byte{{0xA0, 0, 0, 0, 0x99, 1}, epurse.AIDKingstar})
	if err != nil {
		t.Fatal(err)
	}
	if info.CardNo != sim.DemoStaffNo || info.Balance != 50000 || info.Public.CardClass != sim.ClassStaff {
		t.Fatalf("info %+v", info)
	}
}

func TestReadCardNoPurse(t *testing.T) {
	notFound := readertest.Step{Resp: "6A82"}
	c := readertest.NewCard(notFound, notFound, notFound)
	_, err := cardread.Read(context.Background(), c, nil)
	if !errors.Is(err, cardread.ErrNoPurse) {
		t.Fatalf("err %v, want ErrNoPurse", err)
	}
	if n := len(c.Log()); n != 3 {
		t.Fatalf("%d commands, want the two default AIDs and the EP ADF by file id", n)
	}
	// A card that leaves is not "no purse": the terminal asks for it again.
	gone := readertest.NewCard(readertest.Step{Err: reader.ErrCardRemoved})
	if _, err := cardread.Read(context.Background(), gone, nil); !errors.Is(err, reader.ErrCardRemoved) || errors.Is(err, cardread.ErrNoPurse) {
		t.Fatalf("err %v, want ErrCardRemoved", err)
	}
}

// FuzzReadCard answers Read's commands with fuzzed responses (split at
// 0xFF 0xFE): whatever a card answers, Read returns a parsed card or an
// error, never panics, and a card it accepts has a 20-digit card number.
func FuzzReadCard(f *testing.F) {
	pub := epurse.PublicData{Serial: [10]byte{0x10, 0x01, 0x20, 0x26}, Start: [4]byte{0x20, 0x26, 0x09, 0x01}, End: [4]byte{0x20, 0x30, 0x08, 0x31}}
	sep := []byte{0xFF, 0xFE}
	good := bytes.Join([][]byte{{0x6F, 0x00, 0x90, 0x00}, append(pub.Bytes(), 0x90, 0x00), {0, 0, 0x27, 0x10, 0x90, 0x00}}, sep)
	f.Add(good)
	f.Add([]byte{0x6A, 0x82})
	f.Add(bytes.Join([][]byte{{0x90, 0x00}, {0x90, 0x00}, {0x90, 0x00}}, sep))
	f.Fuzz(func(t *testing.T, data []byte) {
		resps := bytes.Split(data, sep)
		i := 0
		c := &readertest.Card{Handler: func([]byte) ([]byte, error) {
			if i >= len(resps) {
				return nil, reader.ErrCardRemoved
			}
			i++
			return resps[i-1], nil
		}}
		info, err := cardread.Read(context.Background(), c, nil)
		if err == nil && len(info.CardNo) != 20 {
			t.Fatalf("card number %q", info.CardNo)
		}
	})
}
