package pn532_test

import (
	"context"
	"testing"

	"github.com/openykt/yktd/reader"
)

// BenchmarkTransmit measures one APDU round trip through the driver,
// go.bug.st/serial, a pseudo-terminal and the simulated module (frames
// encoded and decoded on both sides, ACK included): the driver's overhead
// per APDU, without the UART's wire time.
func BenchmarkTransmit(b *testing.B) {
	rg := newRig(b)
	rg.mod.Tap(echoCard{})
	card := nextEvent(b, rg.events, reader.CardPresent).Card
	ctx := context.Background()
	cmd := []byte{0x00, 0xB0, 0x00, 0x07, 0x00}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := card.Transmit(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}
