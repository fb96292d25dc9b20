//go:build linux

package readers_test

import (
	"go.bug.st/serial"
)

// readyPort signals when the Reader flushed the port after opening it:
// bytes written to the pty after that are read.
type readyPort struct {
	serial.Port
	ready chan<- struct{}
}

func (p readyPort) ResetInputBuffer() error {
	err := p.Port.ResetInputBuffer()
	p.ready <- struct{}{}
	return err
}

func openNotify(ready chan<- struct{}) func(string, *serial.Mode) (serial.Port, error) {
	return func(dev string, mode *serial.Mode) (serial.Port, error) {
		p, err := serial.Open(dev, mode)
		if err != nil {
			return nil, err
		}
		return readyPort{Port: p, ready: ready}, nil
	}
}
