package policy

import "github.com/openykt/yktd/offline"

// Card status byte values of file 0x15 (epurse.CardStatus...; repeated here
// so that policy does not depend on the card driver).
const (
	cardStatusNormal    byte = 0x00
	cardStatusLost      byte = 0x01
	cardStatusFrozen    byte = 0x02
	cardStatusLocked    byte = 0x03
	cardStatusCancelled byte = 0x04
)

// Card is what the terminal read from a card: file 0x15 and the balance.
//
// File 0x15 carries no per-card PIN limit (the holder sets one at a kiosk,
// DESIGN.md 1, but the yktd card profile has no field for it yet): PINLimit
// is an optional input the flow fills when it knows the card's own limit
// (0 = none, the rules' or device's limit applies).
type Card struct {
	// No is the card number (file 0x15 application serial, 20 digits).
	No string
	// Class is the card class (file 0x15 byte 28).
	Class uint8
	// Status is the card's own status byte (file 0x15 byte 29).
	Status byte
	// ValidFrom and ValidTo are the validity dates (file 0x15), both
	// inclusive, as days in the device time zone; zero = no bound.
	ValidFrom, ValidTo Date
	// Balance in fen, from GET BALANCE (POS only).
	Balance int64
	// PINLimit is the card's own per-sale PIN limit in fen; 0 = none.
	PINLimit int64
}

// severity ranks refusals of status: the stricter wins when the status list
// and the card's own byte disagree. Cancelled is final, lost needs the
// holder at a kiosk with ID, locked and frozen need operations, expired an
// extension, dormant only a PIN at a kiosk.
func severity(c Code) int {
	switch c {
	case CodeCancelled:
		return 7
	case CodeLost:
		return 6
	case CodeCardStatus:
		return 5
	case CodeLocked:
		return 4
	case CodeFrozen:
		return 3
	case CodeExpired:
		return 2
	case CodeDormant:
		return 1
	}
	return 0
}

// listedCode maps a status-list reason to its code; 0 (not listed) is CodeOK.
func listedCode(r offline.Reason) Code {
	switch r {
	case 0:
		return CodeOK
	case offline.ReasonLost:
		return CodeLost
	case offline.ReasonFrozen:
		return CodeFrozen
	case offline.ReasonDormant:
		return CodeDormant
	case offline.ReasonCancelled:
		return CodeCancelled
	case offline.ReasonExpired:
		return CodeExpired
	}
	return CodeCardStatus // a reason this build does not know: fail closed
}

// cardStatusCode maps the status byte of file 0x15 to its code.
func cardStatusCode(b byte) Code {
	switch b {
	case cardStatusNormal:
		return CodeOK
	case cardStatusLost:
		return CodeLost
	case cardStatusFrozen:
		return CodeFrozen
	case cardStatusLocked:
		return CodeLocked
	case cardStatusCancelled:
		return CodeCancelled
	}
	return CodeCardStatus
}

// CheckStatus combines the status-list reason of a card (0 = not listed)
// with the card's own status byte (file 0x15; pass 0 when the credential
// has no such byte) and returns the stricter refusal, or CodeOK.
func CheckStatus(listed offline.Reason, cardStatus byte) Code {
	l, c := listedCode(listed), cardStatusCode(cardStatus)
	if severity(c) > severity(l) {
		return c
	}
	return l
}

// CheckValidity checks the validity dates against today (the day in the
// device time zone): CodeNotYetValid before ValidFrom, CodeExpired after
// ValidTo, both days inclusive; zero bounds are open.
func CheckValidity(from, to, today Date) Code {
	if from != 0 && today < from {
		return CodeNotYetValid
	}
	if to != 0 && today > to {
		return CodeExpired
	}
	return CodeOK
}
