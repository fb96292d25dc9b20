package sim

import (
	"io"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// The card writes after issuance under secure messaging (research notes
// kiosk-water §3), as strict as a card OS:
//
//   - GET CHALLENGE (00 84 00 00 04) gives the challenge of the next
//     command only: any command received after it (a wrong one too) uses
//     it up, and so do a reset and a tear;
//   - UPDATE BINARY of files 0x15 and 0x12 only under secure messaging
//     (04 D6, MAC epurse.SecureMAC under the card's DAMK over the header as
//     sent ‖ data, IV the challenge): 6987 without a MAC (00 D6), 6984
//     without a fresh challenge, 6988 on a wrong MAC, 6A88 on a card issued
//     without the key; the bytes are written through commit, so a tear
//     leaves the file old or new, never half written;
//   - APPLICATION BLOCK (84 1E 00 00|01, MAC under DABK) and APPLICATION
//     UNBLOCK (84 18, MAC under DAUK): a blocked application answers SELECT
//     with its FCI and 6A81 (9303 when blocked permanently, which no
//     unblock undoes) and refuses every command but SELECT, GET CHALLENGE,
//     READ BINARY, READ RECORD and the block commands with that status
//     word: no purchase, no load, no PIN. (Reads stay open so that a desk
//     can identify the card it unblocks; card OS manuals differ.)
//     UNBLOCK of an application that is not blocked answers 9000 and
//     changes nothing (so a torn unblock is simply sent again);
//   - PIN RELOAD (80 5E 00 00, the new PIN ‖ epurse.PINReloadMAC under
//     DRPK, no challenge) sets the holder's PIN and resets its tries.

// blockedSW is the status word a blocked application answers with, 0 when
// the application is not blocked.
func (c *Card) blockedSW() reader.SW {
	switch c.st.Blocked {
	case blockTemporary:
		return reader.SWFuncNotSupported // 6A81
	case blockPermanent:
		return reader.SWApplicationLocked // 9303
	}
	return 0
}

// blockedRefusal refuses a command to a blocked, selected application
// (nil when the command may run).
func (c *Card) blockedRefusal(a apdu) []byte {
	if c.selected != selADF {
		return nil
	}
	r := c.blockedSW()
	if r == 0 {
		return nil
	}
	switch {
	case a.cla == 0x00 && (a.ins == InsSelect || a.ins == InsGetChallenge || a.ins == InsReadBinary || a.ins == InsReadRecord),
		a.cla == epurse.CLASecureProp && (a.ins == InsAppBlock || a.ins == InsAppUnblock),
		a.cla == 0xFF:
		return nil
	}
	return sw(r)
}

// getChallenge is GET CHALLENGE: 00 84 00 00 04 → 4 random bytes, the
// challenge of the next command.
func (c *Card) getChallenge(a apdu) []byte {
	switch {
	case a.p1 != 0 || a.p2 != 0:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 0 || a.le != epurse.ChallengeLen:
		return sw(reader.SWWrongLength)
	}
	var r [4]byte
	if _, err := io.ReadFull(c.random, r[:]); err != nil {
		return sw(swMemoryFailure)
	}
	c.chal, c.hasChal = r, true
	return ok(r[:])
}

// secureMAC checks the MAC that ends a command under secure messaging (the
// last 4 bytes of its data) under key with the challenge ch; nil when it
// is right, else the status word to answer.
func (c *Card) secureMAC(a apdu, key []byte, ch [4]byte, hasCh bool) []byte {
	switch {
	case len(a.data) < 4 || a.le >= 0:
		return sw(reader.SWWrongLength)
	case !hasCh:
		return sw(epurse.SWNoChallenge)
	case len(key) != 16:
		return sw(reader.SWRefDataNotFound) // issued without this key
	}
	n := len(a.data) - 4
	h := []byte{a.cla, a.ins, a.p1, a.p2, byte(len(a.data))}
	want, err := epurse.SecureMAC(c.st.Profile.Algorithm, key, ch, h, a.data[:n])
	if err != nil || !epurse.VerifyMAC(want, [4]byte(a.data[n:])) {
		return sw(epurse.SWMACWrong)
	}
	return nil
}

// updateBinary is UPDATE BINARY by SFI of file 0x15 or 0x12: 04 D6
// (80|sfi) offset Lc data ‖ MAC.
func (c *Card) updateBinary(a apdu, ch [4]byte, hasCh bool) []byte {
	switch {
	case a.p1&0x80 == 0:
		return sw(reader.SWConditionsNotMet) // no current EF: only SFI writes
	case a.p1&0x60 != 0 || c.selected != selADF:
		return sw(reader.SWFileNotFound)
	}
	sfi := a.p1 & 0x1F
	f := binaryFile(c.st, sfi)
	switch {
	case f == nil:
		return sw(reader.SWFileNotFound)
	case a.cla == 0x00:
		return sw(epurse.SWMACMissing) // both files are written under secure messaging only
	}
	if r := c.secureMAC(a, c.st.Keys.DAMK, ch, hasCh); r != nil {
		return r
	}
	data := a.data[:len(a.data)-4]
	off := int(a.p2)
	switch {
	case len(data) == 0:
		return sw(reader.SWWrongLength)
	case off >= len(*f):
		return sw(0x6B00) // offset outside the file
	case off+len(data) > len(*f):
		return sw(reader.SWWrongLength)
	}
	if !c.commit(func(st *cardState) { copy((*binaryFile(st, sfi))[off:], data) }) {
		return sw(swMemoryFailure)
	}
	return ok()
}

// appBlock is APPLICATION BLOCK: 84 1E 00 <00 temporary | 01 permanent>
// 04 MAC, under DABK. A permanent block stays permanent.
func (c *Card) appBlock(a apdu, ch [4]byte, hasCh bool) []byte {
	switch {
	case a.p1 != 0 || a.p2 > 0x01:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 4:
		return sw(reader.SWWrongLength)
	case c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	}
	if r := c.secureMAC(a, c.st.Keys.DABK, ch, hasCh); r != nil {
		return r
	}
	state := blockTemporary
	if a.p2 == 0x01 {
		state = blockPermanent
	}
	state = max(state, c.st.Blocked)
	if state != c.st.Blocked && !c.commit(func(st *cardState) { st.Blocked = state }) {
		return sw(swMemoryFailure)
	}
	c.sess, c.verified = nil, 0
	return ok()
}

// appUnblock is APPLICATION UNBLOCK: 84 18 00 00 04 MAC, under DAUK; 9303
// for a permanently blocked application.
func (c *Card) appUnblock(a apdu, ch [4]byte, hasCh bool) []byte {
	switch {
	case a.p1 != 0 || a.p2 != 0:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 4:
		return sw(reader.SWWrongLength)
	case c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	case c.st.Blocked == blockPermanent:
		return sw(reader.SWApplicationLocked)
	}
	if r := c.secureMAC(a, c.st.Keys.DAUK, ch, hasCh); r != nil {
		return r
	}
	if c.st.Blocked != blockNone && !c.commit(func(st *cardState) { st.Blocked = blockNone }) {
		return sw(swMemoryFailure)
	}
	return ok()
}

// pinReload is PIN RELOAD: 80 5E 00 00 Lc PIN ‖ MAC (epurse.PINReloadMAC
// under DRPK). It sets the holder's PIN, resets its tries (a blocked PIN
// too) and clears its verification in this session.
func (c *Card) pinReload(a apdu) []byte {
	switch {
	case a.p2 != 0:
		return sw(reader.SWWrongP1P2)
	case len(a.data) < 5 || len(a.data) > 10 || a.le >= 0:
		return sw(reader.SWWrongLength)
	case c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	case len(c.st.Keys.DRPK) != 16:
		return sw(reader.SWRefDataNotFound)
	}
	n := len(a.data) - 4
	pin, valid := pinDigits(a.data[:n])
	if !valid {
		return sw(reader.SWWrongData)
	}
	want, err := epurse.PINReloadMAC(c.st.Profile.Algorithm, c.st.Keys.DRPK, a.data[:n])
	if err != nil || !epurse.VerifyMAC(want, [4]byte(a.data[n:])) {
		return sw(epurse.SWMACWrong)
	}
	if !c.commit(func(st *cardState) { st.Profile.PIN, st.PINTries = pin, maxPINTries }) {
		return sw(swMemoryFailure)
	}
	c.verified &^= pinHolder
	return ok()
}
