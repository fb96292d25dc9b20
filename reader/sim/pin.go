package sim

import (
	"bytes"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// pinSet is the card's volatile security state: the PINs verified since
// the application was selected. A reset, a tear, a new SELECT and a wrong
// presentation of a PIN clear its bit.
type pinSet uint8

// PIN bits of a pinSet.
const (
	pinHolder pinSet = 1 << iota // the holder's PIN (VERIFY P2 00)
	pinSystem                    // the system PIN (VERIFY P2 01)
)

// pinDigits decodes a BCD PIN padded with F nibbles; false if malformed.
func pinDigits(b []byte) (string, bool) {
	if len(b) == 0 || len(b) > 6 {
		return "", false
	}
	var s []byte
	end := false
	for _, x := range b {
		for _, n := range []byte{x >> 4, x & 0x0F} {
			switch {
			case n == 0x0F:
				end = true
			case end || n > 9:
				return "", false
			default:
				s = append(s, '0'+n)
			}
		}
	}
	return string(s), len(s) >= 2
}

// pinKey is one of the card's PINs: its value and retry counter in the
// card's state.
type pinKey struct {
	bit   pinSet
	max   int
	value func(st *cardState) string
	tries func(st *cardState) *int
}

// The card's two PINs (epurse's two-PIN model).
var (
	holderPIN = pinKey{bit: pinHolder, max: maxPINTries,
		value: func(st *cardState) string { return st.Profile.PIN },
		tries: func(st *cardState) *int { return &st.PINTries }}
	systemPIN = pinKey{bit: pinSystem, max: maxSystemPINTries,
		value: func(st *cardState) string { return st.SystemPIN },
		tries: func(st *cardState) *int { return &st.SystemPINTries }}
)

// checkPIN compares a candidate with the card's PIN k and keeps its retry
// counter: 63Cx on a wrong PIN with x tries left, 6983 once blocked. The
// counter is written (committed) before the answer. A wrong or blocked
// presentation clears k's bit of the security state, a right one sets it.
func (c *Card) checkPIN(k pinKey, candidate []byte) []byte {
	r := c.comparePIN(k, candidate)
	if r != nil {
		c.verified &^= k.bit
		return r
	}
	c.verified |= k.bit
	return nil
}

func (c *Card) comparePIN(k pinKey, candidate []byte) []byte {
	if *k.tries(c.st) == 0 {
		return sw(reader.SWAuthBlocked)
	}
	got, valid := pinDigits(candidate)
	if !valid {
		return sw(reader.SWWrongData)
	}
	if got != k.value(c.st) {
		if !c.commit(func(st *cardState) { *k.tries(st)-- }) {
			return sw(swMemoryFailure)
		}
		return sw(reader.SW(0x63C0 | *k.tries(c.st)))
	}
	if *k.tries(c.st) != k.max && !c.commit(func(st *cardState) { *k.tries(st) = k.max }) {
		return sw(swMemoryFailure)
	}
	return nil
}

// verifyPIN is VERIFY: 00 20 00 <ref> Lc PIN, ref epurse.PINRefHolder
// (00, the holder's PIN) or epurse.PINRefSystem (01, the system PIN; 6A88
// on a card issued without one).
func (c *Card) verifyPIN(a apdu) []byte {
	var k pinKey
	switch {
	case a.p1 != 0:
		return sw(reader.SWWrongP1P2)
	case a.p2 == epurse.PINRefHolder:
		k = holderPIN
	case a.p2 == epurse.PINRefSystem:
		k = systemPIN
	default:
		return sw(reader.SWWrongP1P2)
	}
	if c.selected != selADF {
		return sw(reader.SWConditionsNotMet)
	}
	if k.bit == pinSystem && c.st.SystemPIN == "" {
		return sw(reader.SWRefDataNotFound)
	}
	if r := c.checkPIN(k, a.data); r != nil {
		return r
	}
	return ok()
}

// changePIN is CHANGE PIN: 80 5E 01 00 Lc old ‖ FF ‖ new; a wrong old
// PIN counts a try (63Cx), a blocked one answers 6983. (PIN RELOAD, P1 00,
// is pinReload.)
func (c *Card) changePIN(a apdu) []byte {
	if a.p1 != 0x01 || a.p2 != 0 {
		return sw(reader.SWWrongP1P2)
	}
	if c.selected != selADF {
		return sw(reader.SWConditionsNotMet)
	}
	i := bytes.IndexByte(a.data, 0xFF)
	if i < 0 {
		return sw(reader.SWWrongData)
	}
	newPIN, valid := pinDigits(a.data[i+1:])
	if !valid {
		return sw(reader.SWWrongData)
	}
	if r := c.checkPIN(holderPIN, a.data[:i]); r != nil {
		return r
	}
	if !c.commit(func(st *cardState) { st.Profile.PIN = newPIN }) {
		return sw(swMemoryFailure)
	}
	return ok()
}
