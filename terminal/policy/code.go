package policy

// Code is the stable reason of a decision. Its string form is what the
// journal and the logs keep: never rename a code once shipped.
type Code string

// Decision codes. CodeOK and CodeEmergency allow; every other code refuses.
const (
	CodeOK        Code = "ok"        // allowed
	CodeEmergency Code = "emergency" // fire alarm: lanes released, everyone passes

	// Card and account status (status list, file 0x15 status byte).
	CodeLost          Code = "lost"            // reported lost (挂失)
	CodeFrozen        Code = "frozen"          // frozen (冻结)
	CodeDormant       Code = "dormant"         // dormant: unused for a year, verify at a kiosk
	CodeCancelled     Code = "cancelled"       // cancelled: replaced by a reissued card or returned
	CodeLocked        Code = "locked"          // locked on the card by a terminal (锁卡)
	CodeCardStatus    Code = "card_status"     // the card's status byte has an unknown value
	CodeAppBlocked    Code = "app_blocked"     // the card's e-purse application is blocked (SELECT 6A81 / 9303): the service desk unblocks it
	CodeExpired       Code = "expired"         // past its validity end date (or listed as expired)
	CodeNotYetValid   Code = "not_yet_valid"   // before its validity start date
	CodeNotAccepted   Code = "not_accepted"    // credential kind not accepted on this device or door
	CodeNoCredential  Code = "no_credential"   // the credential carries no card number or subject
	CodeWrongPIN      Code = "wrong_pin"       // PIN verification failed (set by the flow)
	CodeRepeatTap     Code = "repeat_tap"      // same card again within the repeat guard: not charged twice
	CodeNoMealPeriod  Code = "no_meal_period"  // canteen outside every meal period
	CodeMealLimit     Code = "meal_limit"      // uses of this meal period exhausted
	CodeInvalidAmount Code = "invalid_amount"  // amount zero, negative or beyond the card's 32-bit purse
	CodeAmountTooHigh Code = "amount_too_high" // keyed amount above the device's maximum sale
	CodeNoPrice       Code = "no_price"        // fixed-price mode with no price configured
	CodeDailyLimit    Code = "daily_limit"     // the card's daily total on this terminal would be exceeded
	CodeMinBalance    Code = "min_balance"     // shower / hot water: balance not above the minimum
	CodeInsufficient  Code = "insufficient"    // amount above the balance: never overdraw

	// Gate.
	CodeNoAccess       Code = "no_access"        // no access group lets this credential through this door
	CodeOutsideHours   Code = "outside_hours"    // the group's time profile is closed now
	CodeHolidayClosed  Code = "holiday_closed"   // today is a holiday with the door closed
	CodeSecondFactor   Code = "second_factor"    // the door needs a card PIN this credential cannot give
	CodeAntiPassback   Code = "anti_passback"    // same direction again within the anti-passback window
	CodeQRNoSubject    Code = "qr_no_subject"    // campus QR token without a subject
	CodeQRMalformed    Code = "qr_malformed"     // campus QR token with a bad nonce or time fields
	CodeQRLifetime     Code = "qr_lifetime"      // campus QR token valid for too long
	CodeQRNotYetValid  Code = "qr_not_yet_valid" // campus QR token issued in the future beyond the skew
	CodeQRExpired      Code = "qr_expired"       // campus QR token expired
	CodeQRReplay       Code = "qr_replay"        // campus QR token nonce seen before
	CodeQRBadSignature Code = "qr_bad_signature" // campus QR token signature or issuer not valid

	// Fail closed.
	CodeNoRules     Code = "no_rules"     // no signed rules held (gate)
	CodeRuleMissing Code = "rule_missing" // a rule the decision needs is missing or inconsistent

	// Holds: the device's own state stops money (and, where it says so,
	// gate passes) before any card is looked at (see DeviceState).
	CodeNoStatusList   Code = "no_status_list"   // no signed status list held yet: a lost card cannot be told from a good one
	CodeOfflineTooLong Code = "offline_too_long" // no exchange with the ledger for longer than sync.max_offline
	CodeDeviceRevoked  Code = "device_revoked"   // the ledger answered that this device is revoked
	CodeChainBroken    Code = "chain_broken"     // the journal's hash chain does not verify from the acknowledged record
	CodeTampered       Code = "tampered"         // the case-open / tamper input went active: no money until a technician clears it
	CodePSAMBinding    Code = "psam_binding"     // the PSAM is not the one bound to this device (moved or swapped): no money until an operator re-binds it
)

// String returns the code as journaled.
func (c Code) String() string { return string(c) }

// Allows reports whether the code is one of the allowing codes.
func (c Code) Allows() bool { return c == CodeOK || c == CodeEmergency }

// Message is display text in Chinese and English.
type Message struct {
	ZH, EN string
}

// String joins both languages as the display shows them: "挂失卡 / Card reported lost".
func (m Message) String() string { return m.ZH + " / " + m.EN }

var messages = map[Code]Message{
	CodeOK:             {"请通过", "Approved"},
	CodeEmergency:      {"紧急状态 通道已开放", "Emergency: gate open"},
	CodeLost:           {"挂失卡", "Card reported lost"},
	CodeFrozen:         {"冻结卡", "Card frozen"},
	CodeDormant:        {"休眠卡 请到圈存机激活", "Card dormant: activate at a kiosk"},
	CodeCancelled:      {"已注销卡", "Card cancelled"},
	CodeLocked:         {"锁定卡", "Card locked"},
	CodeCardStatus:     {"卡状态异常", "Card status invalid"},
	CodeAppBlocked:     {"卡片已被锁定 请到服务大厅办理", "Card blocked: go to the service desk"},
	CodeExpired:        {"卡已过期", "Card expired"},
	CodeNotYetValid:    {"卡未启用", "Card not yet valid"},
	CodeNotAccepted:    {"此设备不支持该凭证", "Credential not accepted here"},
	CodeNoCredential:   {"无效凭证", "Invalid credential"},
	CodeWrongPIN:       {"密码错误", "Wrong PIN"},
	CodeRepeatTap:      {"请勿重复刷卡", "Card already read"},
	CodeNoMealPeriod:   {"非营业时段", "Outside meal times"},
	CodeMealLimit:      {"本餐次数已用完", "Meal limit reached"},
	CodeInvalidAmount:  {"金额无效", "Invalid amount"},
	CodeAmountTooHigh:  {"金额超过上限", "Amount too high"},
	CodeNoPrice:        {"未设置价格", "No price set"},
	CodeDailyLimit:     {"超过当日限额", "Daily limit reached"},
	CodeMinBalance:     {"余额不足最低限额", "Balance below minimum"},
	CodeInsufficient:   {"余额不足", "Insufficient balance"},
	CodeNoAccess:       {"无通行权限", "Access denied"},
	CodeOutsideHours:   {"非通行时段", "Outside access hours"},
	CodeHolidayClosed:  {"节假日不开放", "Closed for holiday"},
	CodeSecondFactor:   {"请刷卡并输入密码", "Card and PIN required"},
	CodeAntiPassback:   {"防潜回 请勿重复通行", "Anti-passback: already passed"},
	CodeQRNoSubject:    {"无效二维码", "Invalid QR code"},
	CodeQRMalformed:    {"无效二维码", "Invalid QR code"},
	CodeQRLifetime:     {"无效二维码", "Invalid QR code"},
	CodeQRNotYetValid:  {"二维码时间异常", "QR code not yet valid"},
	CodeQRExpired:      {"二维码已过期 请刷新", "QR code expired: refresh it"},
	CodeQRReplay:       {"二维码已使用", "QR code already used"},
	CodeQRBadSignature: {"无效二维码", "Invalid QR code"},
	CodeNoRules:        {"设备未配置规则", "No rules on this device"},
	CodeRuleMissing:    {"规则缺失", "Rule missing"},
	CodeNoStatusList:   {"未获取挂失名单 暂停服务 请联网同步", "No lost-card list yet: out of service until synced"},
	CodeOfflineTooLong: {"离线时间过长 暂停收款 请联网同步", "Offline too long: no sales until synced"},
	CodeDeviceRevoked:  {"设备已停用 请联系技术员", "Device revoked, call the technician"},
	CodeChainBroken:    {"交易记录校验失败 暂停收款 请联系技术员", "Journal check failed: no sales, call the technician"},
	CodeTampered:       {"机壳已被打开 暂停收款 请联系技术员", "Case opened: no sales, call the technician"},
	CodePSAMBinding:    {"终端与PSAM绑定不符 暂停收款 请联系管理员", "PSAM not bound to this device: no sales, call the operator"},
}

// Message returns the display text of the code; an unknown code shows as a
// generic refusal with the code itself.
func (c Code) Message() Message {
	if m, ok := messages[c]; ok {
		return m
	}
	return Message{"拒绝 " + string(c), "Refused: " + string(c)}
}
