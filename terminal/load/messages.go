package load

import (
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/ui"
)

// Codes of a claim's results: stable strings, as terminal/ui's (never
// rename one once shipped). Where terminal/ui has a message of the same
// meaning the code is its.
const (
	CodeLoaded          ui.Code = "loaded"                 // the card was credited: amount and new balance
	CodeEarlierLoad     ui.Code = "earlier_load_completed" // a torn load of this card is found credited
	CodeNothingPending  ui.Code = "nothing_pending"        // no money waits at the ledger for the card
	CodePurseLimit      ui.Code = "purse_limit"            // the load would take the card above its limit
	CodeLedgerOffline   ui.Code = "ledger_unreachable"     // the ledger did not answer: nothing loaded
	CodeLedgerRefused   ui.Code = "ledger_refused"         // the ledger refused the request for a reason of the protocol (signature, format)
	CodeLoadTorn        ui.Code = "card_removed"           // CREDIT sent, answer lost: place the card again (ui.CodeCardRemoved)
	CodeLoadUnresolved  ui.Code = "load_unresolved"        // the card cannot settle a torn load here: the service desk
	CodeCardRefused     ui.Code = "card_refused"           // the card refused the load
	CodeNoPurse         ui.Code = "no_purse"               // no e-purse application this device knows
	CodeTapAgain        ui.Code = ui.CodeTapAgain          // the card left or failed before anything moved
	CodeStoreFault      ui.Code = "store_fault"            // the store failed: see the log
	CodeStorageFull     ui.Code = "storage_full"           // no room for a new load: collect the journal
	CodeSAMFault        ui.Code = "sam_fault"              // the PSAM (system PIN, terminal id) failed
	CodeInvalidAmount   ui.Code = "invalid_amount"         // an amount the ledger holds no load of
	CodeSystemPINFailed ui.Code = "system_pin_refused"     // the card refused the system PIN: wrong keys on this device

	// The ledger's refusals (protocol codes 4, 12, 13, 15-29), each with
	// its reason.
	CodeSpendOnly        ui.Code = "account_spend_only"       // the account may spend, not load (staff who left)
	CodeOverdrawnFrozen  ui.Code = "account_overdrawn_frozen" // the account is overdrawn and frozen until repaid
	CodeAccountLost      ui.Code = "account_lost"             // the account's card was reported lost
	CodeAccountFrozen    ui.Code = "account_frozen"           // the account is frozen
	CodeAccountDormant   ui.Code = "account_dormant"          // the account is dormant: verify the card at a kiosk
	CodeAccountCancelled ui.Code = "account_cancelled"        // the account, or this card of it, is cancelled
	CodeAccountExpired   ui.Code = "account_expired"          // the account is past its validity end
	CodeHolderPINWrong   ui.Code = "holder_pin_wrong"         // the holder's PIN is wrong (the ledger's check)
	CodeHolderPINLocked  ui.Code = "holder_pin_locked"        // too many wrong PINs at the ledger
	CodeNoAccount        ui.Code = "no_account"               // the card belongs to no account
	CodeBankRefused      ui.Code = "bank_refused"             // the bank refused the transfer
	CodeBankUnavailable  ui.Code = "bank_unavailable"         // the bank did not answer
	CodeAmountLimit      ui.Code = "amount_limit"             // the amount is outside what the service allows
	CodeLedgerBusy       ui.Code = "ledger_busy"              // the ledger is overloaded or failed: try later
	CodeCardAuthFailed   ui.Code = "load_mac_invalid"         // the ledger could not verify the card's MAC1
	CodeDeviceRevoked    ui.Code = "device_revoked"           // the ledger revoked this device

	// The refusals of the self-service trades (protocol codes 31-38).
	CodeIDWrong       ui.Code = "id_number_wrong"      // the national ID number is wrong (解挂)
	CodeTriesLocked   ui.Code = "tries_locked"         // too many wrong ID numbers: locked for a while
	CodeStateRefused  ui.Code = "state_refused"        // the card's state does not allow the service
	CodeWritePending  ui.Code = "write_pending"        // a card write waits: complete it first (补写)
	CodeInsufficient  ui.Code = "account_insufficient" // the account's balance is less than the payment
	CodeLoadUnsettled ui.Code = "load_unsettled"       // a load of the card is unsettled
	CodeUnknownRef    ui.Code = "unknown_ref"          // no such card write or order
	CodeWriteMismatch ui.Code = "write_mismatch"       // the card did not take the write
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

	CodeSpendOnly:        {"账户仅可消费 不能圈存", "Account may only spend: no loads"},
	CodeOverdrawnFrozen:  {"账户透支已冻结 请先还款", "Account overdrawn and frozen: repay first"},
	CodeAccountLost:      {"账户已挂失 未圈存", "Account reported lost: nothing loaded"},
	CodeAccountFrozen:    {"账户已冻结 未圈存", "Account frozen: nothing loaded"},
	CodeAccountDormant:   {"账户已休眠 请在圈存机验证", "Account dormant: verify it at a kiosk"},
	CodeAccountCancelled: {"账户或此卡已注销 未圈存", "Account or card cancelled: nothing loaded"},
	CodeAccountExpired:   {"账户已过有效期 请办理延期", "Account expired: have it extended"},
	CodeHolderPINWrong:   {"密码错误", "Wrong PIN"},
	CodeHolderPINLocked:  {"密码错误次数过多 请到管理中心", "Too many wrong PINs: see the service desk"},
	CodeNoAccount:        {"此卡未开户", "This card has no account"},
	CodeBankRefused:      {"银行拒绝转账", "The bank refused the transfer"},
	CodeBankUnavailable:  {"银行暂时无法连接 请稍后再试", "Bank unavailable: try later"},
	CodeAmountLimit:      {"金额超出限额", "Amount outside the allowed limit"},
	CodeLedgerBusy:       {"中心繁忙 请稍后再试", "Ledger busy: try later"},
	CodeCardAuthFailed:   {"卡片认证失败 未圈存", "Card not authenticated: nothing loaded"},
	CodeDeviceRevoked:    {"终端已停用 请联系管理员", "Terminal revoked, call the operator"},

	CodeIDWrong:       {"证件号码错误", "Wrong ID number"},
	CodeTriesLocked:   {"错误次数过多 暂时锁定", "Too many wrong tries: locked for now"},
	CodeStateRefused:  {"当前卡状态不能办理此业务", "The card's state does not allow this service"},
	CodeWritePending:  {"有未完成的写卡 请先补写", "A card write is unfinished: complete it first"},
	CodeInsufficient:  {"账户余额不足", "Insufficient balance in the account"},
	CodeLoadUnsettled: {"有未完成的圈存 请到管理中心", "A load is unfinished: see the service desk"},
	CodeUnknownRef:    {"无此记录", "No such record"},
	CodeWriteMismatch: {"写卡校验失败 请重试", "The card did not take the write: try again"},
}

// refusals maps the ledger's refusal codes to the codes shown; a code not
// listed is CodeLedgerRefused.
var refusals = map[protocol.Code]ui.Code{
	protocol.CodeNoPendingLoad:    CodeNothingPending,
	protocol.CodeMACInvalid:       CodeCardAuthFailed,
	protocol.CodeInternal:         CodeLedgerBusy,
	protocol.CodeRateLimited:      CodeLedgerBusy,
	protocol.CodeRevoked:          CodeDeviceRevoked,
	protocol.CodeSpendOnly:        CodeSpendOnly,
	protocol.CodeOverdrawnFrozen:  CodeOverdrawnFrozen,
	protocol.CodeAccountLost:      CodeAccountLost,
	protocol.CodeAccountFrozen:    CodeAccountFrozen,
	protocol.CodeAccountDormant:   CodeAccountDormant,
	protocol.CodeAccountCancelled: CodeAccountCancelled,
	protocol.CodeAccountExpired:   CodeAccountExpired,
	protocol.CodePurseLimit:       CodePurseLimit,
	protocol.CodePINInvalid:       CodeHolderPINWrong,
	protocol.CodePINLocked:        CodeHolderPINLocked,
	protocol.CodeNoAccount:        CodeNoAccount,
	protocol.CodeBankRefused:      CodeBankRefused,
	protocol.CodeBankUnavailable:  CodeBankUnavailable,
	protocol.CodeAmountLimit:      CodeAmountLimit,
	protocol.CodePSAMBinding:      ui.CodePSAMBinding, // shown with terminal/ui's text
	protocol.CodeIDInvalid:        CodeIDWrong,
	protocol.CodeTriesLocked:      CodeTriesLocked,
	protocol.CodeStateRefused:     CodeStateRefused,
	protocol.CodeWritePending:     CodeWritePending,
	protocol.CodeInsufficient:     CodeInsufficient,
	protocol.CodeLoadUnsettled:    CodeLoadUnsettled,
	protocol.CodeUnknownRef:       CodeUnknownRef,
	protocol.CodeWriteMismatch:    CodeWriteMismatch,
}

// RefusalCode is the code shown for the ledger's refusal c.
func RefusalCode(c protocol.Code) ui.Code {
	if u, ok := refusals[c]; ok {
		return u
	}
	return CodeLedgerRefused
}

// Message is the screen of a code without numbers.
func Message(c ui.Code) ui.Message {
	if t, ok := texts[c]; ok {
		return ui.Custom(c, t[0], t[1])
	}
	return ui.Text(c)
}

// LoadedMessage is the screen of a credit: amount and new balance.
func LoadedMessage(amount, balance int64) ui.Message {
	return ui.Message{Code: CodeLoaded, ZH: "圈存成功", EN: "Loaded",
		Amount: amount, HasAmount: true, Balance: balance, HasBalance: true}
}

// EarlierLoadMessage is the screen of a torn load found credited.
func EarlierLoadMessage(amount, balance int64) ui.Message {
	return ui.Message{Code: CodeEarlierLoad, ZH: "上次圈存已完成", EN: "Your earlier load went through",
		Amount: amount, HasAmount: true, Balance: balance, HasBalance: true}
}
