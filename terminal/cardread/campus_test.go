package cardread_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/readertest"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/terminaltest"
)

// tap presents the virtual card on a reader of its own and returns the
// handle the reader reported.
func tap(t *testing.T, c *sim.Card) reader.Card {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rdr := sim.NewReader("sim:read", reader.TechISO14443A)
	events := make(chan reader.Event, 4)
	go func() { _ = rdr.Run(ctx, events) }()
	rdr.Tap(c)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == reader.CardPresent {
				return e.Card
			}
		case <-deadline:
			t.Fatal("no CardPresent event")
		}
	}
}

// readTap is a POS's read of a tap: Read, then ReadCampus.
func readTap(t *testing.T, h reader.Card) (cardread.Info, error) {
	t.Helper()
	ctx := context.Background()
	info, err := cardread.Read(ctx, h, nil)
	if err != nil {
		return info, err
	}
	return info, cardread.ReadCampus(ctx, h, &info)
}

// TestReadCampus: file 0x12 as 调整限额 and 解挂 wrote it on the strict
// virtual card reaches the policy's card (PINLimit, DailyLimit,
// StatusListVersion).
func TestReadCampus(t *testing.T) {
	c := demoCard(t, "student", "", 0)
	terminaltest.WriteCard(t, c, epurse.LimitsWrite(2000, 30000), epurse.ListVersionWrite(77))
	info, err := readTap(t, tap(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if info.Campus == nil || *info.Campus != (epurse.CampusData{TxnLimit: 2000, DailyLimit: 30000, StatusListVersion: 77}) || info.CampusErr != nil {
		t.Fatalf("campus %+v, err %v", info.Campus, info.CampusErr)
	}
	pc := info.Policy()
	if pc.PINLimit != 2000 || pc.DailyLimit != 30000 || pc.StatusListVersion != 77 || pc.No != sim.DemoStudentNo {
		t.Fatalf("policy card %+v", pc)
	}
	// A fresh card: the file is there with nothing set; the policy's
	// defaults apply.
	info, err = readTap(t, tap(t, demoCard(t, "staff", "", 0)))
	if err != nil || info.Campus == nil || *info.Campus != (epurse.CampusData{}) {
		t.Fatalf("fresh card: %+v %v", info.Campus, err)
	}
	if pc := info.Policy(); pc.PINLimit != 0 || pc.DailyLimit != 0 || pc.StatusListVersion != 0 {
		t.Fatalf("fresh card's policy card %+v", pc)
	}
}

// noCampusFile is an older card: the strict virtual card, but READ BINARY
// of file 0x12 answers 6A82 (file not found) as a card issued without it.
type noCampusFile struct{ reader.Card }

func (n noCampusFile) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) >= 3 && cmd[1] == 0xB0 && cmd[2] == 0x80|epurse.SFICampus {
		return []byte{0x6A, 0x82}, nil
	}
	return n.Card.Transmit(ctx, cmd)
}

// TestReadCampusAbsentOrMalformed: a card without file 0x12, or with one
// not in the yktd layout, is read all the same: no campus data, the
// reason kept for the log, the policy's card without limits or version.
func TestReadCampusAbsentOrMalformed(t *testing.T) {
	malformed := []struct {
		name string
		w    epurse.BinaryWrite
	}{
		{"layout 02", epurse.BinaryWrite{SFI: epurse.SFICampus, Offset: 0, Data: []byte{0x02}}},
		{"reserved byte set", epurse.BinaryWrite{SFI: epurse.SFICampus, Offset: 31, Data: []byte{0x01}}},
	}
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			c := demoCard(t, "student", "", 0)
			terminaltest.WriteCard(t, c, epurse.LimitsWrite(2000, 0), epurse.ListVersionWrite(9), tc.w)
			info, err := readTap(t, tap(t, c))
			if err != nil {
				t.Fatalf("a malformed file 0x12 failed the tap: %v", err)
			}
			if info.Campus != nil || !errors.Is(info.CampusErr, reader.ErrMalformed) {
				t.Fatalf("campus %+v, reason %v", info.Campus, info.CampusErr)
			}
			if pc := info.Policy(); pc.PINLimit != 0 || pc.StatusListVersion != 0 || info.Balance != terminaltest.Balance(c) {
				t.Fatalf("policy card %+v", pc)
			}
		})
	}
	t.Run("no file", func(t *testing.T) {
		c := demoCard(t, "student", "", 0)
		terminaltest.WriteCard(t, c, epurse.ListVersionWrite(9))
		info, err := readTap(t, noCampusFile{tap(t, c)})
		var se *reader.StatusError
		if err != nil || info.Campus != nil || !errors.As(info.CampusErr, &se) || se.SW != reader.SWFileNotFound {
			t.Fatalf("info %+v, err %v", info, err)
		}
		if info.CardNo != sim.DemoStudentNo || info.Policy().StatusListVersion != 0 {
			t.Fatalf("info %+v", info)
		}
	})
}

// TestReadCampusTorn: a card torn away at the read of file 0x12 (or whose
// answer comes back short) is a failed read like the others: tap again,
// not "no campus data" (which would drop the holder's limits).
func TestReadCampusTorn(t *testing.T) {
	for _, f := range []sim.Fault{
		{Kind: sim.TearBefore, INS: sim.InsReadBinary, Nth: 2},
		{Kind: sim.TearAfter, INS: sim.InsReadBinary, Nth: 2},
	} {
		t.Run(string(f.Kind), func(t *testing.T) {
			c := demoCard(t, "student", "", 0)
			terminaltest.WriteCard(t, c, epurse.LimitsWrite(2000, 0))
			if err := c.Arm(f); err != nil {
				t.Fatal(err)
			}
			h := tap(t, c)
			info, err := readTap(t, h)
			if !errors.Is(err, reader.ErrCardRemoved) || !epurse.Transient(err) {
				t.Fatalf("torn read: info %+v err %v, want ErrCardRemoved", info, err)
			}
			if len(c.Faults()) != 0 {
				t.Fatalf("fault not fired: %v", c.Faults())
			}
			// Tapped again, the card reads.
			info, err = readTap(t, tap(t, c))
			if err != nil || info.Campus == nil || info.Campus.TxnLimit != 2000 {
				t.Fatalf("second tap: %+v %v", info.Campus, err)
			}
		})
	}
	// A short answer with 9000: the link's fault, not the card's file.
	short := readertest.NewCard(readertest.Step{Resp: "0100000000009000"})
	var info cardread.Info
	if err := cardread.ReadCampus(context.Background(), short, &info); !errors.Is(err, reader.ErrMalformed) || info.Campus != nil {
		t.Fatalf("short answer: %v %+v", err, info.Campus)
	}
}

// TestReadBlockedApplication: a card whose application a terminal blocked
// answers SELECT 6A81: Read reports it blocked (epurse.ErrAppBlocked), not
// "no e-purse", with the card number when the card still gives file 0x15.
func TestReadBlockedApplication(t *testing.T) {
	c := demoCard(t, "student", "", 0)
	terminaltest.BlockCard(t, c)
	info, err := cardread.Read(context.Background(), tap(t, c), nil)
	if !errors.Is(err, epurse.ErrAppBlocked) || errors.Is(err, cardread.ErrNoPurse) {
		t.Fatalf("err %v, want ErrAppBlocked", err)
	}
	if info.CardNo != sim.DemoStudentNo {
		t.Fatalf("card number %q", info.CardNo)
	}
	// A card that answers 6A81 and nothing else: blocked, at the first AID.
	blocked := readertest.NewCard(readertest.Step{Resp: "6A81"})
	info, err = cardread.ReadIdentity(context.Background(), blocked, nil)
	if !errors.Is(err, epurse.ErrAppBlocked) || info.CardNo != "" {
		t.Fatalf("6A81 card: %+v %v", info, err)
	}
}

// FuzzReadCampus answers READ BINARY of file 0x12 with fuzzed bytes
// (seeds in testdata/fuzz/FuzzReadCampus): ReadCampus never panics; it
// keeps campus data only for an answer of exactly the file in the yktd
// layout, and fails the tap only for a broken answer, never for one the
// card gave with a status word.
func FuzzReadCampus(f *testing.F) {
	f.Fuzz(func(t *testing.T, resp []byte) {
		c := &readertest.Card{Handler: func([]byte) ([]byte, error) { return resp, nil }}
		var info cardread.Info
		err := cardread.ReadCampus(context.Background(), c, &info)
		if err != nil && (info.Campus != nil || !epurse.Transient(err)) {
			t.Fatalf("err %v with campus %+v", err, info.Campus)
		}
		if info.Campus != nil {
			if err != nil || info.CampusErr != nil || len(resp) != epurse.CampusDataLen+2 {
				t.Fatalf("campus %+v from % X (err %v)", info.Campus, resp, err)
			}
			if got := info.Campus.Bytes(); string(got) != string(resp[:epurse.CampusDataLen]) {
				t.Fatalf("campus %+v does not encode back to % X", info.Campus, resp)
			}
		}
		if err == nil && info.Campus == nil && info.CampusErr == nil {
			t.Fatal("no campus data and no reason")
		}
	})
}
