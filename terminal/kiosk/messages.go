package kiosk

import "github.com/openykt/yktd/terminal/ui"

// Codes of the kiosk's screens: stable strings, as terminal/ui's. Where
// terminal/ui has a message of the same meaning the code is its.
const (
	CodeLoaded          ui.Code = "loaded"                 // the card was credited: amount and new balance
	CodeEarlierLoad     ui.Code = "earlier_load_completed" // a torn load of this card is found credited
	CodeNothingPending  ui.Code = "nothing_pending"        // no money waits at the ledger for the card
	CodePurseLimit      ui.Code = "purse_limit"            // the load would take the card above its limit
	CodeLedgerOffline   ui.Code = "ledger_unreachable"     // the ledger did not answer: nothing loaded
	CodeLedgerRefused   ui.Code = "ledger_refused"         // the ledger refused the load (MAC1, no pending load, ...)
	CodeLoadTorn        ui.Code = "card_removed"           // CREDIT sent, answer lost: place the card again (ui.CodeCardRemoved)
	CodeLoadUnresolved  ui.Code = "load_unresolved"        // the card cannot settle a torn load here: the service desk
	CodeCardRefused     ui.Code = "card_refused"           // the card refused the load
	CodeNoPurse         ui.Code = "no_purse"               // no e-purse application this kiosk knows
	CodeTapAgain        ui.Code = ui.CodeTapAgain          // the card left or failed before anything moved
	CodeStoreFault      ui.Code = "store_fault"            // the store failed: see the log
	CodeStorageFull     ui.Code = "storage_full"           // no room for a new load: collect the journal
	CodeSAMFault        ui.Code = "sam_fault"              // the PSAM (system PIN, terminal id) failed
	CodeInvalidAmount   ui.Code = "invalid_amount"         // an amount the ledger holds no load of
	CodeSystemPINFailed ui.Code = "system_pin_refused"     // the card refused the system PIN: wrong keys on this kiosk
)

var texts = map[ui.Code][2]string{
	CodeNothingPending:  {"没有待领取的款项", "Nothing to claim"},
	CodePurseLimit:      {"超过卡内余额上限 未圈存", "Above the card's balance limit: nothing loaded"},
	CodeLedgerOffline:   {"无法连接中心 未圈存 请稍后再试", "Ledger unreachable: nothing loaded, try later"},
	CodeLedgerRefused:   {"中心拒绝圈存", "The ledger refused the load"},
	CodeLoadTorn:        {"卡片移开过早 请重新放卡", "Card removed too early: place it again"},
	CodeLoadUnresolved:  {"圈存结果无法确认 请到管理中心处理", "Load cannot be settled here: see the service desk"},
	CodeCardRefused:     {"卡片拒绝圈存", "The card refused the load"},
	CodeNoPurse:         {"不支持此卡", "Card not supported"},
	CodeStoreFault:      {"设备故障 请联系管理员", "Terminal fault, call the operator"},
	CodeStorageFull:     {"存储已满 请联系管理员", "Storage full, call the operator"},
	CodeSAMFault:        {"安全模块故障 请联系管理员", "SAM fault, call the operator"},
	CodeInvalidAmount:   {"金额无效", "Invalid amount"},
	CodeSystemPINFailed: {"卡片拒绝系统密码 请联系技术员", "Card refused the system PIN, call the technician"},
}

// message is the screen of a code without numbers.
func message(c ui.Code) ui.Message {
	if t, ok := texts[c]; ok {
		return ui.Custom(c, t[0], t[1])
	}
	return ui.Text(c)
}

// withBalance adds the card's balance to m.
func withBalance(m ui.Message, balance int64) ui.Message {
	m.Balance, m.HasBalance = balance, true
	return m
}

func loadedMessage(amount, balance int64) ui.Message {
	return ui.Message{Code: CodeLoaded, ZH: "圈存成功", EN: "Loaded",
		Amount: amount, HasAmount: true, Balance: balance, HasBalance: true}
}

func earlierLoadMessage(amount, balance int64) ui.Message {
	return ui.Message{Code: CodeEarlierLoad, ZH: "上次圈存已完成", EN: "Your earlier load went through",
		Amount: amount, HasAmount: true, Balance: balance, HasBalance: true}
}
