package main

import (
	"context"
	"io"
	"sync"

	"github.com/openykt/yktd/terminal/ui"
)

// consoleInput reads the daemon's console input (stdin) in one goroutine
// and hands it on: to the keypad (ui.Console) and, on the simulator, to the
// card chooser as lines. On a terminal in key-at-a-time mode (rawKeys)
// Ctrl-C arrives as a byte, not as SIGINT; consoleInput then calls its
// interrupt function, so that the daemon stops cleanly and a `make sim`
// around it sees no signal.
//
// With a chooser, bytes go to the keypad only while a keypad entry (an
// amount, a PIN) reads them; otherwise they make the chooser's lines, so
// that what someone types to pick a card never reaches a later PIN prompt.
type consoleInput struct {
	interrupt func()    // called at Ctrl-C; nil: Ctrl-C is an ordinary byte
	echo      io.Writer // where the chooser's typing is echoed; nil: nowhere
	chooser   bool

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced at every change
	entries int           // keypad entries reading now
	keys    []byte        // for the keypad, not read yet
	line    []byte        // the chooser line being typed
	lastCR  bool          // the previous byte ended a line with CR
	lines   []string      // chooser lines, not read yet
	err     error         // the end of the input
}

// Limits of what waits unread: a console nobody reads does not grow.
const (
	maxPendingKeys  = 4096
	maxPendingLines = 16
	maxLine         = 64
)

// newConsoleInput starts reading r (nil: an input that has ended).
func newConsoleInput(r io.Reader, interrupt func(), echo io.Writer, chooser bool) *consoleInput {
	c := &consoleInput{interrupt: interrupt, echo: echo, chooser: chooser, wake: make(chan struct{})}
	if r == nil {
		c.err = io.EOF
		return c
	}
	go c.pump(r)
	return c
}

func (c *consoleInput) pump(r io.Reader) {
	buf := make([]byte, 256)
	for {
		n, err := r.Read(buf)
		if c.feed(buf[:n]) {
			return
		}
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.changed()
			c.mu.Unlock()
			return
		}
	}
}

// changed wakes every waiter; c.mu is held.
func (c *consoleInput) changed() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// feed takes bytes read from the console. It returns true at Ctrl-C: the
// input ends there.
func (c *consoleInput) feed(b []byte) (stop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.changed()
	for _, x := range b {
		if x == 0x03 && c.interrupt != nil {
			c.err = io.EOF
			c.interrupt()
			return true
		}
		if !c.chooser || c.entries > 0 {
			if len(c.keys) < maxPendingKeys {
				c.keys = append(c.keys, x)
			}
			continue
		}
		c.chooserByte(x)
	}
	return false
}

// chooserByte edits the chooser's line; c.mu is held.
func (c *consoleInput) chooserByte(x byte) {
	cr := c.lastCR
	c.lastCR = x == '\r'
	switch {
	case x == '\n' && cr: // the LF of a CRLF
	case x == '\r' || x == '\n':
		if len(c.lines) == maxPendingLines {
			c.lines = c.lines[1:]
		}
		c.lines = append(c.lines, string(c.line))
		c.line = c.line[:0]
		c.echoString("\n")
	case x == 0x08 || x == 0x7f:
		if len(c.line) > 0 {
			c.line = c.line[:len(c.line)-1]
			c.echoString("\b \b")
		}
	case x >= 0x20 && x < 0x7f && len(c.line) < maxLine:
		c.line = append(c.line, x)
		c.echoString(string(x))
	}
}

func (c *consoleInput) echoString(s string) {
	if c.echo != nil {
		_, _ = io.WriteString(c.echo, s)
	}
}

// Read gives the keypad its bytes; it blocks until there are some or the
// input ended.
func (c *consoleInput) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.keys) > 0 {
			n := copy(p, c.keys)
			c.keys = c.keys[n:]
			c.mu.Unlock()
			return n, nil
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return 0, err
		}
		wake := c.wake
		c.mu.Unlock()
		<-wake
	}
}

// NextLine returns the chooser's next line, without its end.
func (c *consoleInput) NextLine(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if len(c.lines) > 0 {
			l := c.lines[0]
			c.lines = c.lines[1:]
			c.mu.Unlock()
			return l, nil
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return "", err
		}
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// entry marks a keypad entry reading: bytes go to the keypad until the
// returned function is called.
func (c *consoleInput) entry() (done func()) {
	c.mu.Lock()
	c.entries++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.entries--
		c.mu.Unlock()
	}
}

// entryKeypad is a keypad whose entries take the console input from the
// card chooser while they read.
type entryKeypad struct {
	ui.Keypad
	in *consoleInput
}

func (k entryKeypad) ReadAmount(ctx context.Context) (int64, error) {
	defer k.in.entry()()
	return k.Keypad.ReadAmount(ctx)
}

func (k entryKeypad) ReadPIN(ctx context.Context, maxLen int) (ui.PIN, error) {
	defer k.in.entry()()
	return k.Keypad.ReadPIN(ctx, maxLen)
}
