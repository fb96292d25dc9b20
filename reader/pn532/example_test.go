package pn532_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pn532"
)

// A PN532 on a USB serial adapter, run by a reader.Manager that reopens
// the port with backoff when the adapter is unplugged and plugged again.
func ExampleNew() {
	r := pn532.New("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", pn532.Options{
		Baud:         115200,
		PollInterval: 100 * time.Millisecond,
		Log:          slog.Default(),
	})
	m := &reader.Manager{Readers: []reader.Reader{r}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan reader.Event, 8)
	go m.Run(ctx, events)
	for ev := range events {
		if ev.Kind == reader.CardPresent {
			// ev.Card.Transmit(ctx, apdu) talks to the card until CardRemoved.
			_ = ev.UID
		}
	}
}
