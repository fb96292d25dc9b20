package pos

import (
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Codes of the POS flow beyond the policy's: card, store and SAM faults and
// the steps of the sale. Like policy codes they are stable strings; where
// terminal/ui has a message of the same meaning the code has its string.
const (
	CodeCardUnreadable policy.Code = "tap_again"         // the card left or failed before anything moved (ui.CodeTapAgain)
	CodeNoPurse        policy.Code = "no_purse"          // no e-purse application this terminal knows
	CodeUncertain      policy.Code = "card_removed"      // DEBIT sent, answer lost: tap again to settle (ui.CodeCardRemoved)
	CodeVoided         policy.Code = "voided"            // recovery found the debit did not happen
	CodeCardRefused    policy.Code = "card_refused"      // the card refused the purchase (MAC, conditions ...)
	CodePINLocked      policy.Code = "pin_locked"        // the card's PIN is blocked (ui.CodePINLocked)
	CodeEntryCancelled policy.Code = "entry_cancelled"   // keypad entry cancelled or timed out (ui.CodeEntryCancelled)
	CodeStorageFull    policy.Code = "storage_full"      // the journal is full: collect it
	CodeStoreFault     policy.Code = "store_fault"       // the store failed: see the log
	CodeSAMFault       policy.Code = "sam_fault"         // the PSAM failed: see the log
	CodeNoSAM          policy.Code = "no_sam"            // no PSAM in its slot (removed, pcscd down): nothing was debited
	CodeMeterBusy      policy.Code = "meter_busy"        // a metered session of another card runs
	CodeNothingToUndo  policy.Code = "nothing_to_cancel" // CancelLast with no sale
	CodeCancelExpired  policy.Code = "cancel_expired"    // the cancel window has passed
	CodeAlreadyUndone  policy.Code = "already_cancelled" // the last sale was cancelled already
	CodeSaleCancelled  policy.Code = "sale_cancelled"    // the cashier reversed the last sale
	CodeSessionStarted policy.Code = "session_started"   // a metered session began
)

// texts of the POS codes terminal/ui's catalogue does not have.
var posTexts = map[policy.Code][2]string{
	CodeNoPurse:       {"不支持此卡", "Card not supported"},
	CodeVoided:        {"交易未扣款", "Nothing was debited"},
	CodeCardRefused:   {"卡片拒绝交易", "Card refused the sale"},
	CodeStorageFull:   {"存储已满 请联系管理员", "Storage full, call the operator"},
	CodeStoreFault:    {"设备故障 请联系管理员", "Terminal fault, call the operator"},
	CodeSAMFault:      {"安全模块故障 请联系管理员", "SAM fault, call the operator"},
	CodeNoSAM:         {"未检测到安全模块 请联系技术员", "No PSAM, call the technician"},
	CodeMeterBusy:     {"设备使用中", "In use by another card"},
	CodeNothingToUndo: {"没有可撤销的交易", "No sale to cancel"},
	CodeCancelExpired: {"已超过撤销时限", "Too late to cancel"},
	CodeAlreadyUndone: {"该交易已撤销", "Sale already cancelled"},
}

// message is the display message of a code: the POS's own text, else
// terminal/ui's catalogue, else the policy's text.
func message(c policy.Code) ui.Message {
	if t, ok := posTexts[c]; ok {
		return ui.Custom(ui.Code(c), t[0], t[1])
	}
	return policyMessage(c, c.Message())
}

// policyMessage shows a policy code with terminal/ui's catalogue text when
// it has one (same code strings), else with the policy's own text.
func policyMessage(c policy.Code, m policy.Message) ui.Message {
	return ui.TextOr(ui.Code(c), m.ZH, m.EN)
}

func sessionStartedMessage(preauth, balance int64) ui.Message {
	return ui.Message{
		Code: ui.Code(CodeSessionStarted),
		ZH:   "开始计费 再次刷卡结束", EN: "Started: tap again to stop",
		Amount: preauth, HasAmount: true, Balance: balance, HasBalance: true,
	}
}

func cancelledMessage(amount int64) ui.Message {
	return ui.Message{
		Code: ui.Code(CodeSaleCancelled),
		ZH:   "已撤销 " + ui.Yuan(amount) + "元 圈存时退回卡内", EN: "Sale of " + ui.Yuan(amount) + " cancelled, refunded at the next load",
		Amount: amount, HasAmount: true,
	}
}
