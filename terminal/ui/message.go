package ui

import "fmt"

// Code is the stable reason of a message: tests, the rig and the logs name
// a message by it. Refusal codes have the same strings as the policy's
// decision codes (terminal/policy.Code), so a flow converts with Code(c).
// Never rename a code once shipped.
type Code string

// Message is one screen of the customer display.
type Message struct {
	// Code is the message's stable reason.
	Code Code
	// ZH and EN are the Chinese and English lines.
	ZH, EN string
	// Amount is the sum of this transaction in fen, shown when HasAmount.
	Amount    int64
	HasAmount bool
	// Balance is the card's balance in fen, shown when HasBalance.
	Balance    int64
	HasBalance bool
	// Retries is the PIN tries left, for CodeWrongPIN.
	Retries int
}

// OK reports whether the message tells of success (the buzzer's one beep).
func (m Message) OK() bool {
	return m.Code == CodeApproved || m.Code == CodePass || m.Code == CodeEarlierSale
}

// String renders the message as one line: "余额不足 / Insufficient balance".
func (m Message) String() string {
	s := m.ZH + " / " + m.EN
	if m.HasAmount {
		s += fmt.Sprintf(" | 金额 Amount %s", Yuan(m.Amount))
	}
	if m.HasBalance {
		s += fmt.Sprintf(" | 余额 Balance %s", Yuan(m.Balance))
	}
	return s
}

// Yuan formats fen as yuan with two decimals: 1250 → "12.50".
func Yuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen) // -MinInt64 wraps to itself: still its magnitude as uint64
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// Codes of the standard messages. Refusal codes have the strings of
// terminal/policy's codes.
const (
	CodeIdle           Code = "idle"                   // waiting for a card
	CodePay            Code = "pay"                    // amount keyed, waiting for the card
	CodeApproved       Code = "approved"               // sale done: amount and new balance
	CodeEarlierSale    Code = "earlier_sale_completed" // this tap completed an earlier torn sale: it went through, not charged again
	CodePass           Code = "pass"                   // gate: please pass
	CodeEnterPIN       Code = "enter_pin"              // the sale needs the PIN
	CodeWrongPIN       Code = "wrong_pin"              // the card refused the PIN: Retries left
	CodePINLocked      Code = "pin_locked"             // the card's PIN is blocked
	CodeCardRemoved    Code = "card_removed"           // card taken away before the sale finished
	CodeTapAgain       Code = "tap_again"              // read failed: tap again
	CodeEntryCancelled Code = "entry_cancelled"        // keypad entry cancelled or timed out
	CodeStorageNearly  Code = "storage_nearly_full"    // journal nearly full: sync or collect it
	CodeFault          Code = "fault"                  // the terminal failed: call the operator

	CodeInsufficient  Code = "insufficient"  // amount above the balance
	CodeMinBalance    Code = "min_balance"   // shower / hot water: balance not above 5 yuan
	CodeLost          Code = "lost"          // reported lost (挂失)
	CodeFrozen        Code = "frozen"        // frozen (冻结)
	CodeDormant       Code = "dormant"       // dormant: activate at a kiosk
	CodeCardCancelled Code = "cancelled"     // cancelled card (注销), replaced by a reissue
	CodeExpired       Code = "expired"       // past its validity
	CodeNotAccepted   Code = "not_accepted"  // credential kind not accepted here
	CodeNoAccess      Code = "no_access"     // gate: no access
	CodeAntiPassback  Code = "anti_passback" // gate: already passed this way
	CodeDailyLimit    Code = "daily_limit"   // daily limit reached

	// Holds: the terminal's own state stops money (terminal/policy's
	// DeviceState); shown at each refused tap and when the hold goes on.
	CodeNoStatusList   Code = "no_status_list"   // no signed status list yet
	CodeOfflineTooLong Code = "offline_too_long" // no exchange with the ledger for longer than allowed
	CodeDeviceRevoked  Code = "device_revoked"   // the ledger revoked this device
	CodeChainBroken    Code = "chain_broken"     // the journal's chain does not verify
	CodeTampered       Code = "tampered"         // the case was opened (tamper input): no money until cleared
	CodePSAMBinding    Code = "psam_binding"     // the PSAM is not bound to this device: no money until an operator re-binds it
)
