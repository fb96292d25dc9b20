package ui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Console is a Display and Keypad on a text terminal, for yktd run --sim:
// messages are written to w, keys read from r. Keys: digits, '.', Enter
// (CR or LF), Backspace (BS or DEL), Cancel (Esc, 'c' or 'C'); other bytes
// are ignored. Console echoes entries itself, PINs as one '*' per digit, so
// the terminal should be in no-echo mode for a PIN not to show.
//
// One entry at a time: ReadAmount and ReadPIN must not run concurrently.
// Show and Clear may be called from any goroutine.
type Console struct {
	r io.Reader
	w io.Writer

	wmu sync.Mutex // serialises writes to w

	start sync.Once
	keys  chan Key
	rerr  error // read error, set before keys is closed
}

var (
	_ Display = (*Console)(nil)
	_ Keypad  = (*Console)(nil)
)

// NewConsole returns a Console reading keys from r and writing to w.
func NewConsole(r io.Reader, w io.Writer) *Console {
	return &Console{r: r, w: w, keys: make(chan Key, 256)}
}

// Show implements Display: a header with the code, the Chinese and the
// English line, and the amount and balance when the message has them.
func (c *Console) Show(_ context.Context, m Message) error {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s ==\n%s\n%s\n", m.Code, m.ZH, m.EN)
	var nums []string
	if m.HasAmount {
		nums = append(nums, "金额 Amount "+Yuan(m.Amount))
	}
	if m.HasBalance {
		nums = append(nums, "余额 Balance "+Yuan(m.Balance))
	}
	if len(nums) > 0 {
		b.WriteString(strings.Join(nums, "  ") + "\n")
	}
	return c.write(b.String())
}

// Clear implements Display.
func (c *Console) Clear(context.Context) error {
	return c.write("== (clear) ==\n")
}

// ReadAmount implements Keypad; see ReadAmountFrom.
func (c *Console) ReadAmount(ctx context.Context) (int64, error) {
	const prompt = "金额 Amount: "
	if err := c.write(prompt); err != nil {
		return 0, err
	}
	fen, err := ReadAmountFrom(ctx, c, func(text string) { _ = c.write("\r\x1b[K" + prompt + text) })
	_ = c.write("\n")
	return fen, err
}

// ReadPIN implements Keypad; see ReadPINFrom. Digits are echoed as '*'.
func (c *Console) ReadPIN(ctx context.Context, maxLen int) (PIN, error) {
	const prompt = "密码 PIN: "
	if err := c.write(prompt); err != nil {
		return PIN{}, err
	}
	pin, err := ReadPINFrom(ctx, c, maxLen, func(n int) { _ = c.write("\r\x1b[K" + prompt + strings.Repeat("*", n)) })
	_ = c.write("\n")
	return pin, err
}

// NextKey implements KeySource on the console input.
func (c *Console) NextKey(ctx context.Context) (Key, error) {
	c.start.Do(func() { go c.readKeys() })
	select {
	case k, ok := <-c.keys:
		if !ok {
			return 0, fmt.Errorf("ui: console input: %w", c.rerr)
		}
		return k, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// readKeys decodes r into keys until it fails (io.EOF included).
func (c *Console) readKeys() {
	br := bufio.NewReader(c.r)
	for {
		b, err := br.ReadByte()
		if err != nil {
			c.rerr = err
			close(c.keys)
			return
		}
		if k, ok := decodeKey(b); ok {
			c.keys <- k
		}
	}
}

// decodeKey maps a console byte to a key.
func decodeKey(b byte) (Key, bool) {
	switch {
	case b >= '0' && b <= '9':
		return Key(b), true
	case b == '.':
		return KeyDot, true
	case b == '\r' || b == '\n':
		return KeyEnter, true
	case b == 0x08 || b == 0x7f:
		return KeyBackspace, true
	case b == 0x1b || b == 'c' || b == 'C':
		return KeyCancel, true
	}
	return 0, false
}

func (c *Console) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := io.WriteString(c.w, s); err != nil {
		return fmt.Errorf("ui: console: %w", err)
	}
	return nil
}
