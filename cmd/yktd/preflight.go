package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/readers"
)

// The configuration check of `yktd run --config`: before the daemon makes
// its data directory or opens its store, it checks everything in the
// configuration that can be checked on this machine without changing
// anything (no file, no directory, no pin mode): the GPIO pins, the readers,
// the SAM, the directories and the sync files. A technician sees every
// problem at once, and a wrong configuration leaves no empty store behind.

// checkError is a failed configuration check: every problem found.
type checkError struct {
	file     string
	problems []error
}

func (e *checkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the configuration does not fit this machine (nothing was created):", e.file)
	for _, p := range e.problems {
		b.WriteString("\n  - " + p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *checkError) Unwrap() []error { return e.problems }

// checkConfig checks cfg (read from file) against this machine. Problems
// that do not stop the daemon (a serial device not plugged in yet: its
// reader retries) are logged as warnings.
func checkConfig(file string, cfg *config.Config, log *slog.Logger) error {
	var errs []error
	errs = append(errs, checkPins(cfg)...)
	errs = append(errs, checkReaders(cfg.Readers, log)...)
	if cfg.Device.Kind == config.KindPOS {
		errs = append(errs, checkSAM(cfg.Device.SAM)...)
	}
	errs = append(errs, checkDirs(cfg)...)
	errs = append(errs, checkSync(cfg.Sync)...)
	if len(errs) == 0 {
		return nil
	}
	return &checkError{file: file, problems: errs}
}

// configPin is one GPIO pin the configuration names.
type configPin struct{ role, name, pin string }

func (p configPin) String() string { return fmt.Sprintf("%s %q: pin %q", p.role, p.name, p.pin) }

// gpioPins lists the GPIO pins of the configuration: the board's (with the
// periph backend; a fake board simulates its pins) and the Wiegand
// readers' data lines.
func gpioPins(c config.Board, rs []config.Reader) []configPin {
	var out []configPin
	if c.Backend != "fake" {
		for _, r := range c.Relays {
			out = append(out, configPin{"relay", r.Name, r.Pin})
		}
		for _, in := range c.Inputs {
			out = append(out, configPin{"input", in.Name, in.Pin})
		}
		for _, ind := range c.Indicators {
			out = append(out, configPin{"indicator", ind.Name, ind.Pin})
		}
	}
	for _, r := range rs {
		if r.Driver == config.DriverWiegand {
			out = append(out, configPin{"reader", r.Name + " d0", r.D0}, configPin{"reader", r.Name + " d1", r.D1})
		}
	}
	return out
}

// checkPins looks every configured GPIO pin up among this machine's pins.
func checkPins(cfg *config.Config) []error {
	return missingPins("board", gpioPins(cfg.Board, cfg.Readers))
}

// missingPins returns the problems of the pins this machine does not have,
// under prefix.
func missingPins(prefix string, pins []configPin) []error {
	if len(pins) == 0 {
		return nil
	}
	host, err := board.PeriphPins(nil)
	if err != nil {
		return []error{err}
	}
	var missing []configPin
	for _, p := range pins {
		if _, err := host.Pin(p.pin); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	chips := gpioChips()
	if len(chips) == 0 {
		names := make([]string, len(missing))
		for i, p := range missing {
			names[i] = p.String()
		}
		return []error{fmt.Errorf("%s: this machine has no GPIO chips (no %s), so these pins are not found: %s",
			prefix, boardEnv.gpioChips, strings.Join(names, "; "))}
	}
	errs := make([]error, len(missing))
	for i, p := range missing {
		errs[i] = fmt.Errorf("%s: %s: not among the pins of %s (`yktd board pins` lists them; periph.io/x/host >= 3.8.3 needs Linux kernel >= 5.10 for them, this one is %s)",
			prefix, p, strings.Join(chips, ", "), kernelRelease())
	}
	return errs
}

// gpioChips returns the machine's GPIO character devices.
func gpioChips() []string {
	m, _ := filepath.Glob(boardEnv.gpioChips)
	return m
}

// kernelRelease returns the running kernel's release, or "unknown".
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// checkReaders builds each reader (which opens nothing) and checks its
// serial device. A device that is missing is only a warning: USB adapters
// may appear after the daemon, and the reader retries until they do.
func checkReaders(rs []config.Reader, log *slog.Logger) []error {
	var errs []error
	quiet := readers.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, c := range rs {
		switch c.Driver {
		case config.DriverPN532, config.DriverQRScan:
			st, err := os.Stat(c.Device)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				log.Warn("reader device not present (yet): the reader retries until it appears", "reader", c.Name, "device", c.Device)
			case err != nil:
				errs = append(errs, fmt.Errorf("reader %q: device: %w", c.Name, err))
			case st.Mode()&fs.ModeCharDevice == 0:
				errs = append(errs, fmt.Errorf("reader %q: device %s is not a serial port (not a character device)", c.Name, c.Device))
			}
		case config.DriverWiegand:
			continue // its pins are checked with the board's; building it sets their mode
		}
		if _, err := readers.BuildOne(c, quiet); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkSAM checks the SAM spec and, for the software SAM, its key file and
// the folder of its sequence file.
func checkSAM(spec string) []error {
	kind, arg, ok := strings.Cut(spec, ":")
	switch {
	case !ok || arg == "" || (kind != "soft" && kind != "pcsc"):
		return []error{fmt.Errorf("device.sam %q: want soft:KEYFILE or pcsc:READER", spec)}
	case kind == "pcsc":
		return nil // the PSAM is looked for in pcscd's readers at start
	}
	kf, err := sam.ReadKeyFile(arg)
	if err != nil {
		return []error{fmt.Errorf("device.sam %q: %w", spec, err)}
	}
	if _, err := os.Stat(kf.SequenceFile); err == nil {
		return nil
	}
	if err := checkWritableDir(filepath.Dir(kf.SequenceFile)); err != nil {
		return []error{fmt.Errorf("device.sam %q: sequence file %s: %w", spec, kf.SequenceFile, err)}
	}
	return nil
}

// checkDirs checks that the data directory, the store's folder and the
// identity folder exist and are writable, or can be made.
func checkDirs(cfg *config.Config) []error {
	var errs []error
	seen := map[string]bool{}
	for _, d := range []struct{ key, dir string }{
		{"device.data_dir", cfg.Device.DataDir},
		{"device.store", filepath.Dir(cfg.Device.Store)},
		{"device.data_dir", identityDir(cfg)},
	} {
		if d.dir == "" || seen[d.dir] {
			continue
		}
		seen[d.dir] = true
		if err := checkWritableDir(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", d.key, d.dir, err))
		}
	}
	if st, err := os.Stat(cfg.Device.Store); err == nil && !st.Mode().IsRegular() {
		errs = append(errs, fmt.Errorf("device.store %s: not a regular file", cfg.Device.Store))
	}
	return errs
}

// checkWritableDir checks that dir is a directory this process may write
// in, or that its nearest existing parent is (so that it can be made).
func checkWritableDir(dir string) error {
	for p := dir; ; {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			return fmt.Errorf("%s is not a directory", p)
		case err == nil:
			if err := writable(p); err != nil {
				return fmt.Errorf("%s is not writable: %w", p, err)
			}
			return nil
		case errors.Is(err, fs.ErrNotExist):
		default:
			return err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("no existing parent folder")
		}
		p = parent
	}
}

// checkSync reads the files the sync section names.
func checkSync(s config.Sync) []error {
	if s.Ledger == "" {
		return nil
	}
	var errs []error
	if s.CAFile != "" {
		b, err := os.ReadFile(s.CAFile)
		if err == nil && !x509.NewCertPool().AppendCertsFromPEM(b) {
			err = errors.New("no PEM certificate in it")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sync.ca_file %s: %w", s.CAFile, err))
		}
	}
	if s.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("sync.cert_file %s, sync.key_file %s: %w", s.CertFile, s.KeyFile, err))
		}
	}
	return errs
}
