package board

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/pin"
	"periph.io/x/host/v3"
)

// missingPinReason explains the usual cause of a pin periph.io cannot find.
const missingPinReason = "periph.io/x/host >= 3.8.3 reaches GPIO through the character devices " +
	"(/dev/gpiochip*), which need Linux kernel >= 5.10; check the pin name against " +
	"gpioinfo and the kernel version"

// PeriphPins initialises periph.io's host drivers (host.Init), logs which
// drivers loaded, were skipped or failed, and returns the Pins backend of
// the board's real GPIO: pins are looked up with gpioreg.ByName. A pin
// periph.io does not know is a *PinError that names it.
func PeriphPins(log *slog.Logger) (Pins, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st, err := host.Init()
	if err != nil {
		return nil, fmt.Errorf("board: periph.io host init: %w", err)
	}
	logDrivers(log, st)
	return periphPins{byName: gpioreg.ByName, kernel: kernelRelease}, nil
}

// logDrivers logs the outcome of periph's driver registry.
func logDrivers(log *slog.Logger, st *driverreg.State) {
	if st == nil {
		return
	}
	loaded := make([]string, len(st.Loaded))
	for i, d := range st.Loaded {
		loaded[i] = d.String()
	}
	log.Info("board: periph.io drivers loaded", "drivers", strings.Join(loaded, ","))
	for _, f := range st.Skipped {
		log.Debug("board: periph.io driver skipped", "driver", f.D.String(), "reason", errString(f.Err))
	}
	for _, f := range st.Failed {
		log.Warn("board: periph.io driver failed", "driver", f.D.String(), "err", errString(f.Err))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// periphPins looks pins up in periph's registry.
type periphPins struct {
	byName func(string) gpio.PinIO
	kernel func() string
}

func (p periphPins) Pin(name string) (gpio.PinIO, error) {
	if pin := p.byName(name); pin != nil {
		return pin, nil
	}
	return nil, &PinError{Pin: name, Kernel: p.kernel(), Reason: missingPinReason}
}

// kernelRelease returns the running kernel's release, or "" off Linux.
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// PinInfo describes a GPIO pin periph.io knows, for the technician choosing
// pin names for the configuration.
type PinInfo struct {
	Name     string
	Number   int
	Function string
}

// PeriphPinList initialises periph.io's host drivers (like PeriphPins) and
// lists every GPIO pin they registered, sorted by name.
func PeriphPinList(log *slog.Logger) ([]PinInfo, error) {
	if _, err := PeriphPins(log); err != nil {
		return nil, err
	}
	all := gpioreg.All()
	out := make([]PinInfo, len(all))
	for i, p := range all {
		out[i] = PinInfo{Name: p.Name(), Number: p.Number(), Function: "?"}
		if pf, ok := p.(pin.PinFunc); ok {
			out[i].Function = string(pf.Func())
		}
	}
	return out, nil
}
