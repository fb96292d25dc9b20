package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// File identifiers of the virtual card.
const (
	SFIPublic byte = 0x15 // public application data (READ BINARY; UPDATE BINARY under secure messaging)
	SFICampus byte = 0x12 // campus data: limits, status-list version (READ BINARY; UPDATE BINARY under secure messaging)
	SFILog    byte = 0x18 // cyclic transaction log (READ RECORD)
	fidMF          = 0x3F00
)

// Factor returns the key diversification factor: the last 8 bytes of the
// BCD application serial number (epurse.PublicData.Factor).
func (p Profile) Factor() [8]byte { return p.PublicData().Factor() }

// CardNumber returns the card number as a terminal reads it from file
// 0x15: the 20 BCD digits of the application serial number
// (epurse.PublicData.CardNumber), CardNo left-padded with 0.
func (p Profile) CardNumber() string { return p.PublicData().CardNumber() }

// PublicData returns the content of file 0x15 in the layout of
// epurse.PublicData: application type 02 (e-purse), version 01, the card
// number as the BCD application serial, left-padded with 0.
func (p Profile) PublicData() epurse.PublicData {
	return epurse.PublicData{
		Issuer: p.Issuer, AppType: 0x02, AppVersion: 0x01,
		Serial: [10]byte(bcdDigits(p.CardNo, 10)),
		Start:  [4]byte(bcdDigits(p.Start, 4)), End: [4]byte(bcdDigits(p.Expiry, 4)),
		CardClass: p.Class, Status: p.Status, StatusListVersion: p.StatusListVersion,
	}
}

// bcdDigits packs a digit string into n bytes of BCD, left-padded with 0.
func bcdDigits(s string, n int) []byte {
	if len(s) < 2*n {
		s = string(bytes.Repeat([]byte{'0'}, 2*n-len(s))) + s
	}
	b, _ := hex.DecodeString(s[len(s)-2*n:])
	return b
}

func (c *Card) aid() []byte {
	if c.st.Profile.AID != nil {
		return c.st.Profile.AID
	}
	return DefaultAID
}

// fci is a minimal file control information template: 6F { 84 name }.
func fci(name []byte) []byte {
	return append([]byte{0x6F, byte(2 + len(name)), 0x84, byte(len(name))}, name...)
}

func (c *Card) doSelect(a apdu) []byte {
	switch a.p1 {
	case 0x00: // by file id
		if len(a.data) != 2 {
			return sw(reader.SWWrongLength)
		}
		switch binary.BigEndian.Uint16(a.data) {
		case fidMF:
			c.selected, c.sess, c.verified = selMF, nil, 0
			return ok(fci([]byte("1PAY.SYS.DDF01")))
		case epurse.FIDEPADF:
			return c.selectADF(c.aid())
		}
	case 0x04: // by DF name
		if bytes.Equal(a.data, c.aid()) || bytes.Equal(a.data, epurse.AIDCityCard) {
			return c.selectADF(a.data)
		}
		if string(a.data) == "1PAY.SYS.DDF01" {
			c.selected, c.sess, c.verified = selMF, nil, 0
			return ok(fci(a.data))
		}
	default:
		return sw(reader.SWWrongP1P2)
	}
	return sw(reader.SWFileNotFound)
}

// selectADF selects the e-purse application. A blocked one is selected
// all the same (for APPLICATION UNBLOCK) and answers its FCI with 6A81
// (temporarily blocked, as the Huada card of the research notes does) or
// 9303 (permanently).
func (c *Card) selectADF(name []byte) []byte {
	c.selected, c.sess, c.verified = selADF, nil, 0
	if r := c.blockedSW(); r != 0 {
		return append(fci(name), r.SW1(), r.SW2())
	}
	return ok(fci(name))
}

// sliceLe answers a read of data from offset with Le: 6B00 past the end,
// 6Cxx when Le asks for more than is there, all of it for Le 00 or absent.
func sliceLe(data []byte, off, le int) []byte {
	if off > len(data) {
		return sw(0x6B00)
	}
	rest := data[off:]
	switch {
	case le < 0 || le == 256:
		return ok(rest)
	case le > len(rest):
		return sw(reader.SW(0x6C00 | len(rest)))
	}
	return ok(rest[:le])
}

func (c *Card) readBinary(a apdu) []byte {
	if a.p1&0x80 == 0 {
		return sw(reader.SWConditionsNotMet) // no current EF: only SFI reads
	}
	if len(a.data) > 0 {
		return sw(reader.SWWrongLength)
	}
	if c.selected != selADF || a.p1&0x60 != 0 {
		return sw(reader.SWFileNotFound)
	}
	f := binaryFile(c.st, a.p1&0x1F)
	if f == nil {
		return sw(reader.SWFileNotFound)
	}
	return sliceLe(*f, int(a.p2), a.le)
}

// File returns the content of the transparent file sfi (0x15 or 0x12) as
// the card holds it, for tests and tools; false for any other file.
func (c *Card) File(sfi byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := binaryFile(c.st, sfi)
	if f == nil {
		return nil, false
	}
	return append([]byte(nil), (*f)...), true
}

// binaryFile returns the transparent file sfi of st (0x15, 0x12), nil for
// any other.
func binaryFile(st *cardState, sfi byte) *[]byte {
	switch sfi {
	case SFIPublic:
		return &st.Public
	case SFICampus:
		return &st.Campus
	}
	return nil
}

// loggedCounter is the counter a log record carries for a transaction
// made at counter before: before itself, or before+1 with LogCounterAfter.
func (p Profile) loggedCounter(before uint16) uint16 {
	if p.LogCounterAfter {
		return before + 1
	}
	return before
}

// logRecord encodes one file 0x18 record (epurse.Record, 23 bytes).
func logRecord(counter uint16, overdraft, amount uint32, typ byte, termID [6]byte, dt epurse.DateTime) []byte {
	return epurse.Record{Counter: counter, Overdraft: overdraft, Amount: amount, Type: typ, TermID: termID, Time: dt}.Bytes()
}

func (c *Card) readRecord(a apdu) []byte {
	if len(a.data) > 0 {
		return sw(reader.SWWrongLength)
	}
	if a.p2&0x07 != 0x04 {
		return sw(reader.SWWrongP1P2)
	}
	if c.selected != selADF || a.p2>>3 != SFILog {
		return sw(reader.SWFileNotFound)
	}
	n := int(a.p1)
	if n < 1 || n > len(c.st.Log) {
		return sw(reader.SWRecordNotFound)
	}
	return sliceLe(c.st.Log[n-1], 0, a.le)
}
