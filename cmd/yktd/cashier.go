package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/openykt/yktd/terminal/config"
)

const cashierPINUsage = `usage: yktd cashier-pin

Reads the cashier's PIN (4 to 12 digits) and prints the line to paste
under [pos] in the device configuration:

  cashier_pin_hash = "pbkdf2-sha256$..."

On a terminal the PIN is asked twice and not echoed; otherwise one line is
read from stdin (printf '%s\n' "$PIN" | yktd cashier-pin). The PIN itself is
never printed. The cashier sends it with POST /v1/cancel-last
(docs/control.md).`

func init() {
	register(command{
		name:    "cashier-pin",
		summary: "hash a cashier PIN for pos.cashier_pin_hash",
		run:     runCashierPIN,
	})
}

func runCashierPIN(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cashier-pin", stderr, printer(cashierPINUsage))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("cashier-pin takes no arguments")
	}
	pin, err := readCashierPIN(runEnv.stdin, stderr)
	if err != nil {
		return err
	}
	if config.ValidPIN(pin) != nil {
		return errors.New("a cashier PIN is 4 to 12 digits; nothing printed")
	}
	h, err := config.HashPIN(pin, config.DefaultPINIterations)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cashier_pin_hash = %q\n", h.String())
	fmt.Fprintln(stderr, "paste this line under [pos] in the device configuration and restart the daemon")
	return nil
}

// readCashierPIN reads the PIN: twice without echo from a terminal, else
// one line.
func readCashierPIN(in io.Reader, stderr io.Writer) (string, error) {
	f, ok := in.(*os.File)
	if !ok {
		return readPINLine(bufio.NewReader(in))
	}
	restore, tty := noEcho(f)
	if !tty {
		return readPINLine(bufio.NewReader(in))
	}
	// Ctrl-C must not leave the terminal without echo.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	defer restore()
	type answer struct {
		pin string
		err error
	}
	lines := make(chan answer, 1)
	rd := bufio.NewReader(f)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		go func() {
			pin, err := readPINLine(rd)
			lines <- answer{pin, err}
		}()
		select {
		case a := <-lines:
			fmt.Fprintln(stderr)
			return a.pin, a.err
		case <-sig:
			fmt.Fprintln(stderr)
			return "", errors.New("interrupted; nothing printed")
		}
	}
	pin, err := ask("cashier PIN: ")
	if err != nil {
		return "", err
	}
	again, err := ask("again: ")
	if err != nil {
		return "", err
	}
	if pin != again {
		return "", errors.New("the two PINs differ; nothing printed")
	}
	return pin, nil
}

// readPINLine reads one line (at most 64 bytes) without its line end.
func readPINLine(rd *bufio.Reader) (string, error) {
	var b strings.Builder
	for b.Len() <= 64 {
		c, err := rd.ReadByte()
		if err == io.EOF && b.Len() > 0 {
			break
		}
		if err != nil {
			return "", fmt.Errorf("no PIN read: %w", err)
		}
		if c == '\n' {
			break
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}
