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

// Card is what the terminal read from a card: file 0x15, the campus data
// file 0x12 when the card has one, and the balance.
//
// The holder's own limits and the status-list version of the card's last
// 解挂 come from file 0x12 (epurse.CampusData: 调整限额 and 解挂 write it
// at a kiosk or the service desk). A card without the file, or with one
// the terminal cannot read, leaves them 0: the rules' or device's limits
// apply and the status list decides with the card's own byte, as for any
// card.
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
	// PINLimit is the card's own per-sale PIN limit in fen (file 0x12
	// per-transaction limit): a sale above it needs the PIN. 0 = not set,
	// the rules' or device's limit applies.
	PINLimit int64
	// DailyLimit is the card's own daily limit in fen (file 0x12); it caps
	// the card's total of the day on this terminal like the rules' and
	// device's daily limit (the stricter applies). 0 = none.
	DailyLimit int64
	// StatusListVersion is the status-list version written to file 0x12 at
	// the card's last 解挂; 0 = none. A device whose status list is older
	// than it ignores the list's entry for the card (CheckCardStatus).
	StatusListVersion uint64
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

// CheckCardStatus is CheckStatus with the versions of the status list and
// of the card's last 解挂: when the device's list (version listVersion) is
// older than the card's StatusListVersion, the list predates the unfreeze
// and its entry for the card (listed) is ignored, so the card's own status
// byte decides (its validity dates are checked apart, CheckValidity).
// Otherwise the stricter of list and card wins, as CheckStatus.
func CheckCardStatus(listed offline.Reason, listVersion uint64, card Card) Code {
	if listVersion < card.StatusListVersion {
		listed = 0
	}
	return CheckStatus(listed, card.Status)
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
