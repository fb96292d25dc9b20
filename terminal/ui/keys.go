package ui

import (
	"context"
	"errors"
	"fmt"
)

// Key is one key of the keypad: '0'..'9', KeyDot, KeyEnter, KeyCancel or
// KeyBackspace. Other values are ignored by the entry logic.
type Key byte

// The keys beyond the digits.
const (
	KeyEnter     Key = '\n'
	KeyCancel    Key = 0x1b // Esc on a console
	KeyBackspace Key = 0x08
	KeyDot       Key = '.'
)

// KeySource yields keypad keys. NextKey blocks until a key, ctx's end or an
// error (uitest returns ErrTimeout to simulate an idle holder).
type KeySource interface {
	NextKey(ctx context.Context) (Key, error)
}

// MaxPINLen is the longest PIN a card takes (VERIFY: 2 to 12 digits).
const MaxPINLen = 12

// ReadAmountFrom runs the cashier's amount entry on keys from src: digits,
// at most one decimal point with up to two decimals, Backspace, Enter,
// Cancel. Enter on an empty or zero amount is ignored; digits beyond
// MaxAmount are ignored. echo (optional) receives the text keyed so far.
// It is the logic behind every Keypad.ReadAmount.
func ReadAmountFrom(ctx context.Context, src KeySource, echo func(text string)) (int64, error) {
	var text []byte
	for {
		k, err := src.NextKey(ctx)
		if err != nil {
			return 0, entryError(ctx, err)
		}
		switch {
		case k == KeyCancel:
			return 0, ErrCancelled
		case k == KeyEnter:
			if fen := parseFen(text); fen > 0 {
				return fen, nil
			}
			continue
		case k == KeyBackspace:
			if len(text) > 0 {
				text = text[:len(text)-1]
			}
		case k == KeyDot:
			if !containsDot(text) {
				text = append(text, '.')
			}
		case k >= '0' && k <= '9':
			next := append(append([]byte(nil), text...), byte(k))
			if validAmountText(next) {
				text = next
			}
		default:
			continue
		}
		if echo != nil {
			echo(string(text))
		}
	}
}

// ReadPINFrom runs PIN entry on keys from src: up to maxLen digits (0 or
// more than MaxPINLen means MaxPINLen), Backspace, Enter, Cancel. Enter with
// no digit is ignored. echo (optional) receives the number of digits keyed,
// never the digits. It is the logic behind every Keypad.ReadPIN.
func ReadPINFrom(ctx context.Context, src KeySource, maxLen int, echo func(n int)) (PIN, error) {
	if maxLen <= 0 || maxLen > MaxPINLen {
		maxLen = MaxPINLen
	}
	buf := make([]byte, 0, MaxPINLen)
	wipe := func() {
		buf = buf[:cap(buf)]
		for i := range buf {
			buf[i] = 0
		}
	}
	for {
		k, err := src.NextKey(ctx)
		if err != nil {
			wipe()
			return PIN{}, entryError(ctx, err)
		}
		switch {
		case k == KeyCancel:
			wipe()
			return PIN{}, ErrCancelled
		case k == KeyEnter:
			if len(buf) > 0 {
				return PIN{digits: buf}, nil
			}
			continue
		case k == KeyBackspace:
			if len(buf) > 0 {
				buf[len(buf)-1] = 0
				buf = buf[:len(buf)-1]
			}
		case k >= '0' && k <= '9':
			if len(buf) < maxLen {
				buf = append(buf, byte(k))
			}
		default:
			continue
		}
		if echo != nil {
			echo(len(buf))
		}
	}
}

// entryError maps a key source's error: a passed deadline is ErrTimeout.
func entryError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrCancelled):
		return err
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
	}
	return fmt.Errorf("ui: keypad: %w", err)
}

func containsDot(b []byte) bool {
	for _, c := range b {
		if c == '.' {
			return true
		}
	}
	return false
}

// validAmountText reports whether text is at most two decimals and within
// MaxAmount.
func validAmountText(text []byte) bool {
	for i, c := range text {
		if c == '.' && len(text)-i-1 > 2 {
			return false
		}
	}
	return parseFen(text) <= MaxAmount
}

// parseFen turns "12.5" into 1250; text holds only digits and at most one
// dot, and is short enough not to overflow (validAmountText bounds it).
func parseFen(text []byte) int64 {
	var yuan, fen int64
	dec := -1
	for _, c := range text {
		switch {
		case c == '.':
			dec = 0
		case dec < 0:
			yuan = yuan*10 + int64(c-'0')
			if yuan > MaxAmount {
				return MaxAmount + 1
			}
		default:
			fen = fen*10 + int64(c-'0')
			dec++
		}
	}
	if dec == 1 {
		fen *= 10
	}
	return yuan*100 + fen
}
