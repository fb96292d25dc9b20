package terminal

import (
	"fmt"

	"github.com/openykt/yktd/terminal/policy"
)

// Codes of the POS flow beyond the policy's: card, store and SAM faults and
// the steps of the sale. Like policy codes they are stable strings.
const (
	CodeCardUnreadable policy.Code = "card_unreadable" // the card left or failed before anything moved: tap again
	CodeNoPurse        policy.Code = "no_purse"        // no e-purse application this terminal knows
	CodeUncertain      policy.Code = "uncertain"       // DEBIT sent, answer lost: tap again to settle
	CodeVoided         policy.Code = "voided"          // recovery found the debit did not happen
	CodeCardRefused    policy.Code = "card_refused"    // the card refused the purchase (locked, MAC, ...)
	CodePINLocked      policy.Code = "pin_locked"      // the card's PIN is blocked
	CodeEntryCancelled policy.Code = "entry_cancelled" // keypad entry cancelled or timed out
	CodeStorageFull    policy.Code = "storage_full"    // the journal is full: collect it
	CodeStoreFault     policy.Code = "store_fault"     // the store failed: see the log
	CodeSAMFault       policy.Code = "sam_fault"       // the PSAM failed: see the log
	CodeMeterBusy      policy.Code = "meter_busy"      // a metered session of another card runs
	CodeNothingToUndo  policy.Code = "nothing_to_cancel"
	CodeCancelExpired  policy.Code = "cancel_expired"    // the cancel window has passed
	CodeAlreadyUndone  policy.Code = "already_cancelled" // the last sale was cancelled already
	CodeSaleCancelled  policy.Code = "sale_cancelled"    // the cashier reversed the last sale
)

var posMessages = map[policy.Code]policy.Message{
	CodeCardUnreadable: {ZH: "读卡失败 请重新刷卡", EN: "Card not read, tap again"},
	CodeNoPurse:        {ZH: "不支持此卡", EN: "Card not supported"},
	CodeUncertain:      {ZH: "交易未完成 请重新刷卡", EN: "Sale not finished, tap the card again"},
	CodeVoided:         {ZH: "交易未扣款", EN: "Nothing was debited"},
	CodeCardRefused:    {ZH: "卡片拒绝交易", EN: "Card refused the sale"},
	CodePINLocked:      {ZH: "密码已锁定 请到服务点解锁", EN: "PIN locked, see the service desk"},
	CodeEntryCancelled: {ZH: "已取消", EN: "Cancelled"},
	CodeStorageFull:    {ZH: "存储已满 请联系管理员", EN: "Storage full, call the operator"},
	CodeStoreFault:     {ZH: "设备故障 请联系管理员", EN: "Terminal fault, call the operator"},
	CodeSAMFault:       {ZH: "安全模块故障 请联系管理员", EN: "SAM fault, call the operator"},
	CodeMeterBusy:      {ZH: "设备使用中", EN: "In use by another card"},
	CodeNothingToUndo:  {ZH: "没有可撤销的交易", EN: "No sale to cancel"},
	CodeCancelExpired:  {ZH: "已超过撤销时限", EN: "Too late to cancel"},
	CodeAlreadyUndone:  {ZH: "该交易已撤销", EN: "Sale already cancelled"},
}

// message is the display text of a code.
func message(c policy.Code) policy.Message {
	if m, ok := posMessages[c]; ok {
		return m
	}
	return c.Message()
}

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func paidMessage(amount, balance int64) policy.Message {
	return policy.Message{
		ZH: fmt.Sprintf("消费 %s元 余额 %s元", yuan(amount), yuan(balance)),
		EN: fmt.Sprintf("Paid %s, balance %s", yuan(amount), yuan(balance)),
	}
}

func wrongPINMessage(left int) policy.Message {
	return policy.Message{
		ZH: fmt.Sprintf("密码错误 还可输入%d次", left),
		EN: fmt.Sprintf("Wrong PIN, %d tries left", left),
	}
}

func enterPINMessage(amount int64) policy.Message {
	return policy.Message{
		ZH: fmt.Sprintf("消费 %s元 请输入密码", yuan(amount)),
		EN: fmt.Sprintf("%s: enter your PIN", yuan(amount)),
	}
}

func sessionStartedMessage(balance int64) policy.Message {
	return policy.Message{
		ZH: fmt.Sprintf("开始计费 余额 %s元 再次刷卡结束", yuan(balance)),
		EN: fmt.Sprintf("Started, balance %s; tap again to stop", yuan(balance)),
	}
}

func cancelledMessage(amount int64) policy.Message {
	return policy.Message{
		ZH: fmt.Sprintf("已撤销 %s元 圈存时退回卡内", yuan(amount)),
		EN: fmt.Sprintf("Sale of %s cancelled, refunded at the next load", yuan(amount)),
	}
}
