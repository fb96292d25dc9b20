package perf

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
)

func testCard(t *testing.T) *sim.Card {
	t.Helper()
	p := sim.Profile{CardNo: "10012026120700000001", Issuer: sim.DemoIssuer, Class: 1, StatusListVersion: 1,
		Start: "20250101", Expiry: "20301231", Algorithm: epurse.AlgDES, KeyVersion: 1, KeyIndex: 1, PIN: "123456"}
	c, err := sim.NewCard(p, sam.TestKeys().Keys[1], 10000)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The trace stamps the first command, lists every instruction, and stops
// counting the card's time at its answer to DEBIT FOR PURCHASE (refused
// here: a made-up MAC1), whatever comes after.
func TestTimedCardTrace(t *testing.T) {
	c := &timedCard{card: testCard(t)}
	before := time.Now()
	c.mark(before)
	for _, cmd := range [][]byte{
		{0xFF, 0xCA, 0x00, 0x00, 0x00},             // UID
		{0x00, 0xA4, 0x04, 0x00, 0x02, 0x10, 0x01}, // SELECT
		{0x80, 0x54, 0x01, 0x00, 0x0F, 0, 0, 0, 1, 0x20, 0x26, 0x12, 0x07, 0x12, 0, 0, 1, 2, 3, 4, 0x08}, // DEBIT
		{0x80, 0x5C, 0x00, 0x02, 0x04}, // GET BALANCE after it
	} {
		if _, err := c.Respond(cmd); err != nil {
			t.Fatal(err)
		}
	}
	tr := c.trace()
	if tr.Tap != before || tr.FirstAPDU.Before(before) || tr.DebitDone.Before(tr.FirstAPDU) {
		t.Fatalf("stamps: %+v", tr)
	}
	if string(tr.INS) != string([]byte{0xCA, 0xA4, 0x54, 0x5C}) {
		t.Fatalf("INS % X", tr.INS)
	}
	if tr.CardTime <= 0 || tr.CardTime > tr.DebitDone.Sub(tr.FirstAPDU) {
		t.Fatalf("card time %v, first APDU to DEBIT answered %v", tr.CardTime, tr.DebitDone.Sub(tr.FirstAPDU))
	}
	// A new mark forgets the last tap; a trace is a copy.
	tr.INS[0] = 0
	c.mark(time.Now())
	if tr2 := c.trace(); !tr2.FirstAPDU.IsZero() || len(tr2.INS) != 0 || tr2.CardTime != 0 {
		t.Fatalf("after mark: %+v", tr2)
	}
	// A card without DEBIT: no DebitDone, all its time counted.
	if _, err := c.Respond([]byte{0x80, 0x5C, 0x00, 0x02, 0x04}); err != nil {
		t.Fatal(err)
	}
	if tr3 := c.trace(); !tr3.DebitDone.IsZero() || tr3.CardTime <= 0 {
		t.Fatalf("without DEBIT: %+v", tr3)
	}
}

// The card side's connection carries frames both ways and asks for an
// immediate ACK before each read. (That the ACK then comes at once is the
// kernel's business; the run shows it: about 2 ms a sale instead of 44 ms
// a command, with -vpcd-delayed-ack for the comparison.)
func TestQuickAckConn(t *testing.T) {
	const rounds = 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// As the vpcd driver does: the length, then the payload, Nagle
		// on; the card answers each frame, which makes the connection
		// interactive (the kernel then delays ACKs unless asked not to).
		_ = c.(*net.TCPConn).SetNoDelay(false)
		b := make([]byte, 2)
		for range rounds {
			_, _ = c.Write([]byte{0, 3})
			_, _ = c.Write([]byte{0xFF, 0xCA, 0x00})
			_, _ = io.ReadFull(c, b)
		}
	}()
	c, err := dialQuickAck(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	qc := c.(*quickAckConn)
	reads := 0
	for i := range rounds {
		// ReadFrame reads the length, then the payload: two reads.
		frame, err := vpcd.ReadFrame(c)
		if err != nil || string(frame) != "\xFF\xCA\x00" {
			t.Fatalf("round %d: frame % X, %v", i, frame, err)
		}
		reads += 2
		if qc.set < reads {
			t.Fatalf("round %d: TCP_QUICKACK set before %d of %d reads", i, qc.set, reads)
		}
		if _, err := c.Write([]byte{0x90, 0x00}); err != nil {
			t.Fatal(err)
		}
	}
}
