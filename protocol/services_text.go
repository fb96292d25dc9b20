package protocol

import (
	"fmt"
	"time"
)

// codeTexts are the holder's texts of the codes: 中文, English.
var codeTexts = map[Code][2]string{
	CodeMalformed:      {"请求无效", "Invalid request"},
	CodeBadSignature:   {"设备认证失败", "Device authentication failed"},
	CodeUnknownDevice:  {"设备未注册", "Device not enrolled"},
	CodeRevoked:        {"设备已停用", "Device revoked"},
	CodeTokenInvalid:   {"注册码无效", "Enrolment token invalid"},
	CodeGap:            {"同步中断 请稍后", "Sync interrupted: please wait"},
	CodeFork:           {"流水不一致 请联系管理中心", "Journal conflict: call the service desk"},
	CodeChainBroken:    {"流水不一致 请联系管理中心", "Journal conflict: call the service desk"},
	CodeStaleVersion:   {"版本过旧", "Version out of date"},
	CodeTooLarge:       {"请求过大", "Request too large"},
	CodeNoPendingLoad:  {"无待领款项", "Nothing to claim"},
	CodeMACInvalid:     {"卡片认证失败", "Card authentication failed"},
	CodeInternal:       {"系统忙 请稍后再试", "System busy: try again later"},
	CodeUnsupportedAlg: {"算法不支持", "Algorithm not supported"},
	CodeRateLimited:    {"系统忙 请稍后再试", "System busy: try again later"},

	CodeSpendOnly:        {"该账户只能消费，不能圈存", "This account may spend but not load"},
	CodeOverdrawnFrozen:  {"账户透支已冻结，请先还款", "Account overdrawn and frozen until repaid"},
	CodeAccountLost:      {"卡已挂失", "Card reported lost"},
	CodeAccountFrozen:    {"账户已冻结 请到管理中心", "Account frozen: see the service desk"},
	CodeAccountDormant:   {"卡已休眠，请在自助机验证", "Card dormant: verify it at a kiosk"},
	CodeAccountCancelled: {"卡已注销，请使用新卡", "Card cancelled: use your new card"},
	CodeAccountExpired:   {"卡已过期，请办理延期", "Card expired: extend it"},
	CodePurseLimit:       {"超出卡内余额上限", "Above the card's balance limit"},
	CodePINInvalid:       {"密码错误", "Wrong PIN"},
	CodePINLocked:        {"密码已锁定，请到服务中心", "PIN locked: see the service desk"},
	CodeNoAccount:        {"无此账户", "No such account"},
	CodeBankRefused:      {"银行拒绝：余额不足", "The bank refused: insufficient funds"},
	CodeBankUnavailable:  {"银行暂不可用，请稍后再试", "Bank unavailable: try again later"},
	CodeAmountLimit:      {"金额超出范围", "Amount out of range"},
	CodePSAMBinding:      {"终端与PSAM绑定不符 暂停收款 请联系管理员", "PSAM not bound to this device: no sales, call the operator"},

	CodeIDInvalid:     {"证件号码错误", "Wrong ID number"},
	CodeTriesLocked:   {"错误次数过多，暂时锁定", "Too many wrong tries: locked for now"},
	CodeStateRefused:  {"当前卡状态不能办理此业务", "The card's state does not allow this service"},
	CodeWritePending:  {"有未完成的写卡，请先补写", "A card write is unfinished: complete it first"},
	CodeInsufficient:  {"账户余额不足", "Insufficient balance in the account"},
	CodeLoadUnsettled: {"有未完成的圈存，请到管理中心", "A load is unfinished: see the service desk"},
	CodeUnknownRef:    {"无此记录", "No such record"},
	CodeWriteMismatch: {"写卡校验失败，请重试", "The card did not take the write: try again"},
}

// CodeText returns the texts a device shows the holder for a refusal of
// code c: 中文 and English (docs/protocol.md §8.3, §8.6). A code this
// version does not know gets a generic text with its number.
func CodeText(c Code) (zh, en string) {
	if t, ok := codeTexts[c]; ok {
		return t[0], t[1]
	}
	return fmt.Sprintf("交易失败 (%d)", uint16(c)), fmt.Sprintf("Refused (%d)", uint16(c))
}

// ErrorText returns the texts of e for the holder: CodeText with the
// tries left (pin-invalid, id-invalid) or the end of the lockout
// (tries-locked, in loc) when e carries them.
func ErrorText(e *Error, loc *time.Location) (zh, en string) {
	zh, en = CodeText(e.Code)
	switch {
	case e.TriesLeft > 0:
		zh += fmt.Sprintf("，还可尝试%d次", e.TriesLeft)
		en += fmt.Sprintf(" (%d tries left)", e.TriesLeft)
	case e.Code == CodeTriesLocked && e.Until > 0:
		t := time.Unix(e.Until, 0).In(loc).Format("2006-01-02 15:04")
		zh += "，至" + t
		en += " until " + t
	}
	return zh, en
}
