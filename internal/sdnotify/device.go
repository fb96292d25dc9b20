package sdnotify

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultDeviceInterval is how often a watchdog device is pet: well inside
// the shortest timeout of common boards' watchdogs (bcm2835 15 s, sunxi
// 16 s).
const DefaultDeviceInterval = 5 * time.Second

// Device pets a kernel watchdog device (/dev/watchdog). Opening the device
// arms it: from then on the board resets unless it is written to within
// its timeout. Stopping writes the magic 'V' and closes it, which disarms
// it on a clean stop; a process that dies leaves it armed, so the board
// resets (a driver built with nowayout ignores 'V' and resets anyway).
type Device struct {
	interval time.Duration

	mu sync.Mutex
	w  io.WriteCloser
}

// OpenDevice opens and so arms the watchdog device at path, to be pet
// every interval (0: DefaultDeviceInterval).
func OpenDevice(path string, interval time.Duration) (*Device, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("sdnotify: watchdog device: %w", err)
	}
	return NewDevice(f, interval), nil
}

// NewDevice pets w, an open watchdog device (or a fake of it in tests).
func NewDevice(w io.WriteCloser, interval time.Duration) *Device {
	if interval <= 0 {
		interval = DefaultDeviceInterval
	}
	return &Device{w: w, interval: interval}
}

// Ready does nothing: a watchdog device has no notion of readiness.
func (d *Device) Ready() error { return nil }

// Status does nothing: a watchdog device has no status line.
func (d *Device) Status(string) error { return nil }

// Watchdog writes one byte, which pets the watchdog.
func (d *Device) Watchdog() error { return d.write([]byte{'1'}) }

// Stopping writes the magic close character and closes the device: the
// watchdog is disarmed for the clean stop.
func (d *Device) Stopping() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return nil
	}
	_, err := d.w.Write([]byte{'V'})
	if cerr := d.w.Close(); err == nil {
		err = cerr
	}
	d.w = nil
	if err != nil {
		return fmt.Errorf("sdnotify: watchdog magic close: %w", err)
	}
	return nil
}

// WatchdogInterval is the pet interval.
func (d *Device) WatchdogInterval() time.Duration { return d.interval }

// Close closes the device without the magic character: the watchdog stays
// armed (what a crash leaves). It does nothing after Stopping.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return nil
	}
	err := d.w.Close()
	d.w = nil
	return err
}

func (d *Device) write(b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return fmt.Errorf("sdnotify: watchdog device: %w", os.ErrClosed)
	}
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("sdnotify: pet watchdog: %w", err)
	}
	return nil
}
