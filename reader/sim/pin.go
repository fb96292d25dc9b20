package sim

import (
	"bytes"

	"github.com/openykt/yktd/reader"
)

// pinSet is the card's volatile security state: the PINs verified since
// the application was selected. A reset, a tear, a new SELECT and a wrong
// presentation of a PIN clear its bit.
type pinSet uint8

// PIN bits of a pinSet.
const (
	pinHolder pinSet = 1 << iota // the holder's PIN (VERIFY P2 00)
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

// checkPIN compares a candidate with the card's PIN and keeps the retry
// counter: 63Cx on a wrong PIN with x tries left, 6983 once blocked. The
// counter is written (committed) before the answer.
func (c *Card) checkPIN(candidate []byte) []byte {
	if c.st.PINTries == 0 {
		return sw(reader.SWAuthBlocked)
	}
	got, valid := pinDigits(candidate)
	if !valid {
		return sw(reader.SWWrongData)
	}
	if got != c.st.Profile.PIN {
		if !c.commit(func(st *cardState) { st.PINTries-- }) {
			return sw(swMemoryFailure)
		}
		return sw(reader.SW(0x63C0 | c.st.PINTries))
	}
	if c.st.PINTries != maxPINTries && !c.commit(func(st *cardState) { st.PINTries = maxPINTries }) {
		return sw(swMemoryFailure)
	}
	return nil
}

// verifyPIN is VERIFY: 00 20 00 00 Lc PIN.
func (c *Card) verifyPIN(a apdu) []byte {
	if a.p1 != 0 || a.p2 != 0 {
		return sw(reader.SWWrongP1P2)
	}
	if c.selected != selADF {
		return sw(reader.SWConditionsNotMet)
	}
	if r := c.checkPIN(a.data); r != nil {
		c.verified &^= pinHolder
		return r
	}
	c.verified |= pinHolder
	return ok()
}

// changePIN is CHANGE PIN: 80 5E 01 00 Lc old ‖ FF ‖ new. (RELOAD PIN,
// P1 00, needs the issuer's MAC and is not supported.)
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
	if r := c.checkPIN(a.data[:i]); r != nil {
		c.verified &^= pinHolder
		return r
	}
	if !c.commit(func(st *cardState) { st.Profile.PIN = newPIN }) {
		return sw(swMemoryFailure)
	}
	return ok()
}
