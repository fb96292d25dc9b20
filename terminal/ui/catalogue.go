package ui

import "fmt"

// texts are the fixed Chinese and English lines of the codes that carry no
// numbers.
var texts = map[Code][2]string{
	CodeIdle:           {"请刷卡", "Please tap your card"},
	CodePass:           {"请通行", "Please pass"},
	CodeEnterPIN:       {"请输入密码", "Please enter your PIN"},
	CodePINLocked:      {"密码已锁定 请到圈存机解锁", "PIN locked, unlock it at a kiosk"},
	CodeCardRemoved:    {"卡片移开过早 请重新刷卡", "Card removed too early, tap again"},
	CodeTapAgain:       {"请重新刷卡", "Please tap again"},
	CodeEntryCancelled: {"已取消", "Cancelled"},
	CodeStorageNearly:  {"存储将满 请联网同步", "Storage nearly full, please sync"},
	CodeFault:          {"设备故障 请联系管理员", "Terminal fault, call the operator"},
	CodeInsufficient:   {"余额不足", "Insufficient balance"},
	CodeMinBalance:     {"余额不足5元 不能使用", "Balance must be above 5.00"},
	CodeLost:           {"挂失卡", "Card reported lost"},
	CodeFrozen:         {"冻结卡", "Card frozen"},
	CodeDormant:        {"休眠卡 请到圈存机激活", "Card dormant: activate at a kiosk"},
	CodeCardCancelled:  {"已注销卡", "Card cancelled"},
	CodeExpired:        {"卡已过期", "Card expired"},
	CodeNotAccepted:    {"此设备不支持该凭证", "Credential not accepted here"},
	CodeNoAccess:       {"无通行权限", "Access denied"},
	CodeAntiPassback:   {"防潜回 请勿重复通行", "Anti-passback: already passed"},
	CodeDailyLimit:     {"超过当日限额", "Daily limit reached"},
	CodeNoStatusList:   {"未获取挂失名单 暂停服务 请联网同步", "No lost-card list yet: out of service until synced"},
	CodeOfflineTooLong: {"离线时间过长 暂停收款 请联网同步", "Offline too long: no sales until synced"},
	CodeDeviceRevoked:  {"设备已停用 请联系技术员", "Device revoked, call the technician"},
	CodeChainBroken:    {"交易记录校验失败 暂停收款 请联系技术员", "Journal check failed: no sales, call the technician"},
	CodeTampered:       {"机壳已被打开 暂停收款 请联系技术员", "Case opened: no sales, call the technician"},
	CodePSAMBinding:    {"终端与PSAM绑定不符 暂停收款 请联系管理员", "PSAM not bound to this device: no sales, call the operator"},
}

// Text returns the standard message of a code without numbers (Idle, Pass,
// EnterPIN, a refusal...). A code not in the catalogue shows as a generic
// refusal naming it, so a new policy code is never a blank screen.
func Text(c Code) Message {
	if t, ok := texts[c]; ok {
		return Message{Code: c, ZH: t[0], EN: t[1]}
	}
	return Message{Code: c, ZH: "交易拒绝 " + string(c), EN: "Refused: " + string(c)}
}

// TextOr returns the catalogue's message for c, or one with the caller's
// text zh and en when the catalogue has none (a policy code's own
// Message, say): a flow shows the catalogue's wording wherever it has one.
func TextOr(c Code, zh, en string) Message {
	if t, ok := texts[c]; ok {
		return Message{Code: c, ZH: t[0], EN: t[1]}
	}
	return Custom(c, zh, en)
}

// Custom returns a message with the caller's own text (a flow with a reason
// the catalogue does not have, e.g. terminal/policy's Message for a code).
func Custom(c Code, zh, en string) Message {
	return Message{Code: c, ZH: zh, EN: en}
}

// Idle is the screen between taps.
func Idle() Message { return Text(CodeIdle) }

// Pay asks for the card after the cashier keyed amount (fen).
func Pay(amount int64) Message {
	return Message{
		Code: CodePay, ZH: fmt.Sprintf("请付款 %s元", Yuan(amount)), EN: fmt.Sprintf("Please pay %s", Yuan(amount)),
		Amount: amount, HasAmount: true,
	}
}

// Approved tells of a sale of amount leaving balance on the card (fen).
func Approved(amount, balance int64) Message {
	return Message{
		Code:   CodeApproved,
		ZH:     fmt.Sprintf("交易成功 消费 %s元 余额 %s元", Yuan(amount), Yuan(balance)),
		EN:     fmt.Sprintf("Approved: paid %s, balance %s", Yuan(amount), Yuan(balance)),
		Amount: amount, HasAmount: true, Balance: balance, HasBalance: true,
	}
}

// EarlierSale tells the customer whose tap completed an earlier torn sale
// of amount that it went through (and was not charged again), leaving
// balance on the card (fen).
func EarlierSale(amount, balance int64) Message {
	return Message{
		Code:   CodeEarlierSale,
		ZH:     fmt.Sprintf("上次交易已完成 消费 %s元 余额 %s元", Yuan(amount), Yuan(balance)),
		EN:     fmt.Sprintf("Your earlier payment of %s went through, balance %s", Yuan(amount), Yuan(balance)),
		Amount: amount, HasAmount: true, Balance: balance, HasBalance: true,
	}
}

// Refused tells why a tap was refused; balance (fen) is shown when the
// card's balance is known and useful (insufficient, min balance).
func Refused(c Code) Message { return Text(c) }

// RefusedWithBalance is Refused with the card's balance shown.
func RefusedWithBalance(c Code, balance int64) Message {
	m := Text(c)
	m.Balance, m.HasBalance = balance, true
	return m
}

// Pass lets the holder through a gate.
func Pass() Message { return Text(CodePass) }

// EnterPIN asks for the PIN for a sale of amount (fen); amount 0 asks
// without one (gate second factor, kiosk).
func EnterPIN(amount int64) Message {
	m := Text(CodeEnterPIN)
	if amount > 0 {
		m.ZH = fmt.Sprintf("消费 %s元 请输入密码", Yuan(amount))
		m.EN = fmt.Sprintf("%s: please enter your PIN", Yuan(amount))
		m.Amount, m.HasAmount = amount, true
	}
	return m
}

// WrongPIN tells that the card refused the PIN and how many tries are left.
func WrongPIN(retries int) Message {
	return Message{
		Code:    CodeWrongPIN,
		ZH:      fmt.Sprintf("密码错误 还可输入%d次", retries),
		EN:      fmt.Sprintf("Wrong PIN, %d tries left", retries),
		Retries: retries,
	}
}

// PINLocked tells that the card's PIN is blocked.
func PINLocked() Message { return Text(CodePINLocked) }

// CardRemoved tells that the card left before the sale finished.
func CardRemoved() Message { return Text(CodeCardRemoved) }

// TapAgain asks for the card again.
func TapAgain() Message { return Text(CodeTapAgain) }

// EntryCancelled tells that the cashier cancelled (or the entry timed out).
func EntryCancelled() Message { return Text(CodeEntryCancelled) }

// StorageNearlyFull warns that the journal is close to its cap.
func StorageNearlyFull() Message { return Text(CodeStorageNearly) }

// OfflineTooLong tells the cashier that the terminal has not reached the
// ledger for longer than its limit of days and takes no money until it
// has.
func OfflineTooLong(days int) Message {
	m := Text(CodeOfflineTooLong)
	if days > 0 {
		m.ZH = fmt.Sprintf("离线超过%d天 暂停收款 请联网同步", days)
		m.EN = fmt.Sprintf("Offline over %d days: no sales until synced", days)
	}
	return m
}

// ChainBroken tells that the journal's chain breaks at record seq: the
// terminal takes no money until a technician looks.
func ChainBroken(seq uint64) Message {
	m := Text(CodeChainBroken)
	m.ZH = fmt.Sprintf("交易记录第%d条校验失败 暂停收款 请联系技术员", seq)
	m.EN = fmt.Sprintf("Journal broken at record %d: no sales, call the technician", seq)
	return m
}
