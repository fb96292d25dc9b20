package policy

import "time"

// DeviceState is the terminal's own state that decides, before any card is
// looked at, whether it takes money and lets cards through a gate: the
// prerequisites it fails closed on (DESIGN.md 6). The flows gather it; the
// decision is HeldBy.
type DeviceState struct {
	// StatusList: a signed status list is held. Without one a lost card
	// cannot be told from a good one.
	StatusList bool
	// Revoked: the ledger answered that this device is revoked.
	Revoked bool
	// ChainBroken: the journal's hash chain does not verify from the last
	// record the ledger acknowledged to the head.
	ChainBroken bool
	// Tampered: the case-open / tamper input went active and no
	// technician has cleared it yet.
	Tampered bool
	// PSAMUnbound: the PSAM is not bound to this device (the ledger holds
	// it, or the PSAM found is not the one it enrolled with) and no
	// operator has re-bound it: devices may not be moved or lent.
	PSAMUnbound bool
	// LastContact is the last successful exchange with the ledger; zero
	// when none is known, and then the offline limit does not apply.
	LastContact time.Time
	// MaxOffline is how long the device may go without reaching the
	// ledger before it stops selling (sync.max_offline); 0 = no limit.
	MaxOffline time.Duration
}

// holdOrder lists the holds most serious first: the first in force is the
// one a flow shows.
var holdOrder = []Code{CodeChainBroken, CodeTampered, CodeDeviceRevoked, CodePSAMBinding, CodeNoStatusList, CodeOfflineTooLong}

// Holds returns the codes of the holds in force at now, most serious first
// (nil when none): each stops money; StopsGate says which stop gate passes.
func (s DeviceState) Holds(now time.Time) []Code {
	var out []Code
	for _, c := range holdOrder {
		if s.on(c, now) {
			out = append(out, c)
		}
	}
	return out
}

// MoneyHold returns the first hold in force at now (CodeOK when none): a
// POS takes no money while it is on.
func (s DeviceState) MoneyHold(now time.Time) Code {
	for _, c := range holdOrder {
		if s.on(c, now) {
			return c
		}
	}
	return CodeOK
}

// GateHold returns the first hold in force at now that stops gate passes
// (CodeOK when none).
func (s DeviceState) GateHold(now time.Time) Code {
	for _, c := range holdOrder {
		if StopsGate(c) && s.on(c, now) {
			return c
		}
	}
	return CodeOK
}

// KioskHold returns the hold that stops a kiosk's loads at now, or
// CodeOK. A kiosk is online: the ledger decides on the card and its
// account, so no status list (or an old one) does not stop it; a revoked
// device does, and so do a broken journal chain (its load records are
// evidence), an opened case and a PSAM not bound to the device.
func (s DeviceState) KioskHold(now time.Time) Code {
	for _, c := range holdOrder {
		if (c == CodeDeviceRevoked || c == CodeChainBroken || c == CodeTampered || c == CodePSAMBinding) && s.on(c, now) {
			return c
		}
	}
	return CodeOK
}

// StopsGate reports whether hold c stops gate passes too. No status list
// and a revoked device do: the gate cannot tell a lost card, or is no
// longer trusted with the decision. A gate offline too long keeps
// working on the last list it has (people must get through their doors),
// and so does one whose journal chain broke (the list is sound; only the
// evidence behind it is in doubt, and the ledger sees that).
func StopsGate(c Code) bool { return c == CodeNoStatusList || c == CodeDeviceRevoked }

// OfflineSince returns when the offline hold goes (or went) on: the last
// contact plus the limit; zero when the limit does not apply.
func (s DeviceState) OfflineSince() time.Time {
	if s.LastContact.IsZero() || s.MaxOffline <= 0 {
		return time.Time{}
	}
	return s.LastContact.Add(s.MaxOffline)
}

func (s DeviceState) on(c Code, now time.Time) bool {
	switch c {
	case CodeChainBroken:
		return s.ChainBroken
	case CodeTampered:
		return s.Tampered
	case CodePSAMBinding:
		return s.PSAMUnbound
	case CodeDeviceRevoked:
		return s.Revoked
	case CodeNoStatusList:
		return !s.StatusList
	case CodeOfflineTooLong:
		at := s.OfflineSince()
		return !at.IsZero() && now.After(at)
	}
	return false
}
