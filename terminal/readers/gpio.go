package readers

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// hostInit loads periph.io's host drivers once per process.
var hostInit = sync.OnceValue(func() error {
	_, err := host.Init()
	return err
})

// hostPin is the default Options.Pin: a pin of the board by its periph
// name ("GPIO17") or number.
func hostPin(name string) (gpio.PinIn, error) {
	if err := hostInit(); err != nil {
		return nil, fmt.Errorf("periph host drivers: %w", err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("%w %q (periph.io/x/host 3.8.3 and later reach GPIO through the Linux GPIO character device /dev/gpiochip*, which needs kernel 5.10 or later)", ErrNoPin, name)
	}
	return p, nil
}
