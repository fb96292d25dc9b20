package protocol

import "fmt"

// Self-service and service-desk trades (issue 15, docs/protocol.md §8.4):
// a kiosk or a desk sends a ServiceRequest naming its Trade, signed by the
// device key like every request; the ledger answers a ServiceAnswer or a
// refusal (an Error whose code says why, with TriesLeft or Until where
// they apply). RequestID makes every trade idempotent: the same request id
// from the same device gets the same answer (or the same refusal) and
// never a second effect, also after a restart of the ledger.
//
// A trade that changes what a card must say (a new PIN, the limit, the
// card's status and status-list version, the validity end) answers the
// card writes it made pending (CardWrite): the device writes the card and
// reports the outcome (CardWriteReport); the ledger applies the change
// only when a write is reported written (services_writes.go).
const (
	TypeServiceRequest = "yktd/service-request"
	TypeServiceAnswer  = "yktd/service-answer"

	// PathServices takes a ServiceRequest and answers a ServiceAnswer.
	PathServices = "/v1/services"
)

// Bounds of the service messages.
const (
	MaxServiceRequestSize = 1024
	MaxServiceAnswerSize  = 8192
	// MaxMovements bounds ServiceAnswer.Movements (a statement's last N).
	MaxMovements = 20
	// DefaultMovements is the N of a statement whose Count is 0.
	DefaultMovements = 10
	// MaxOperatorLen bounds an operator id.
	MaxOperatorLen = 32
	// MaxOrderIDLen bounds a fee order id.
	MaxOrderIDLen = 64
	// MaxNationalIDLen bounds a national ID number in a request.
	MaxNationalIDLen = 64
	// MaxTxLimit is the largest per-transaction limit a card field holds
	// (3 bytes of fen).
	MaxTxLimit = 0xFFFFFF
)

func init() {
	maxSizes[TypeServiceRequest] = MaxServiceRequestSize
	maxSizes[TypeServiceAnswer] = MaxServiceAnswerSize
}

// Trade names a self-service or desk trade. The numbers are wire values.
type Trade uint8

// Trades. The holder's trades (1–8) run at a kiosk, or at a desk under
// an operator's authority; 9–11 run at a desk only. TradeExtend is no
// request: it names the card writes of `ledgerd account extend --file`.
const (
	TradeChangePIN    Trade = 1  // 修改密码: card, pin, new_pin → a pin write (CHANGE PIN)
	TradeSetLimit     Trade = 2  // 调整限额: card, pin, tx_limit → a tx-limit write
	TradeReportLoss   Trade = 3  // 挂失 without the card: account (the holder's number), pin → status_version
	TradeUnfreeze     Trade = 4  // 解挂: card, pin, national_id → a status write, status_version
	TradeReactivate   Trade = 5  // 卡状态验证 of a dormant card: card, pin → a status write
	TradePayFee       Trade = 6  // 网费 / 电费: card, pin, order_id, service, reference, amount → order
	TradeFeeOrder     Trade = 7  // a fee order by its id: order_id → order
	TradeStatement    Trade = 8  // balance and last movements: card, pin, count
	TradeResetPIN     Trade = 9  // desk: card, new_pin (no old PIN) → a pin-reload write
	TradeUnblock      Trade = 10 // desk: card or account, unblock (what to clear)
	TradeCloseAccount Trade = 11 // desk 销户: card, proof (the card's balance) → refund, status_version, a status write
	TradeExtend       Trade = 12 // not a request: the registry's 延期 (ledgerd account extend --file)
)

var tradeNames = [...]string{
	TradeChangePIN: "change-pin", TradeSetLimit: "set-limit", TradeReportLoss: "report-loss", TradeUnfreeze: "unfreeze",
	TradeReactivate: "reactivate", TradePayFee: "pay-fee", TradeFeeOrder: "fee-order", TradeStatement: "statement",
	TradeResetPIN: "reset-pin", TradeUnblock: "unblock", TradeCloseAccount: "close-account", TradeExtend: "extend",
}

// String returns the trade's stable name ("change-pin", ...).
func (t Trade) String() string {
	if t >= TradeChangePIN && t <= TradeExtend {
		return tradeNames[t]
	}
	return fmt.Sprintf("trade(%d)", uint8(t))
}

// DeskOnly reports whether only a service desk may ask for t.
func (t Trade) DeskOnly() bool { return t >= TradeResetPIN && t <= TradeCloseAccount }

// Unblock says what a desk's TradeUnblock clears (bits).
type Unblock uint8

// What TradeUnblock clears.
const (
	UnblockPIN Unblock = 1 // the wrong-PIN count at the ledger (a locked PIN)
	UnblockID  Unblock = 2 // the wrong-ID-number count and its lockout (解挂)
)

// SecretID is a national ID number in a request. Like SecretPIN it prints
// as "******" in every fmt verb and in JSON; CBOR carries its bytes. The
// ledger compares its keyed digest and forgets it.
type SecretID []byte

// Format writes ****** whatever the verb.
func (SecretID) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("******")) }

// MarshalJSON writes "******".
func (SecretID) MarshalJSON() ([]byte, error) { return []byte(`"******"`), nil }

// validNationalID: 1 to 64 ASCII letters, digits and spaces.
func validNationalID(b []byte) bool {
	if len(b) == 0 || len(b) > MaxNationalIDLen {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ' ') {
			return false
		}
	}
	return true
}

// validText: 1 to max printable ASCII bytes (spaces inside allowed).
func validText(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ServiceRequest asks the ledger for a trade. Every field but DeviceID,
// RequestID and Trade is optional on the wire and required or forbidden
// by the trade (Validate; see the Trade constants): a field a trade does
// not use is refused, so that no PIN or ID number travels where none is
// needed. Operator is the operator signed in at a desk: required from a
// desk, refused from a kiosk (the ledger checks the device's kind). The
// PINs and the ID number are checked and forgotten at the ledger: never
// stored, logged or answered.
type ServiceRequest struct {
	DeviceID   string    `cbor:"1,keyasint" json:"device_id"`
	RequestID  []byte    `cbor:"2,keyasint" json:"request_id"` // RequestIDSize random bytes, the same on a retry
	Trade      Trade     `cbor:"3,keyasint" json:"trade"`
	Operator   string    `cbor:"4,keyasint,omitempty" json:"operator,omitempty"`
	CardNo     string    `cbor:"5,keyasint,omitempty" json:"card_no,omitempty"`
	Account    string    `cbor:"6,keyasint,omitempty" json:"account,omitempty"` // the holder's number (report-loss, unblock)
	PIN        SecretPIN `cbor:"7,keyasint,omitempty" json:"pin,omitempty"`
	NewPIN     SecretPIN `cbor:"8,keyasint,omitempty" json:"new_pin,omitempty"`
	NationalID SecretID  `cbor:"9,keyasint,omitempty" json:"national_id,omitempty"`
	TxLimit    int64     `cbor:"10,keyasint,omitempty" json:"tx_limit,omitempty"` // fen (set-limit; 0: the PIN above every amount)
	OrderID    string    `cbor:"11,keyasint,omitempty" json:"order_id,omitempty"`
	Service    string    `cbor:"12,keyasint,omitempty" json:"service,omitempty"`   // "net" (网费), "electricity" (电费)
	Reference  string    `cbor:"13,keyasint,omitempty" json:"reference,omitempty"` // the room, the meter
	Amount     int64     `cbor:"14,keyasint,omitempty" json:"amount,omitempty"`    // fen
	Count      int       `cbor:"15,keyasint,omitempty" json:"count,omitempty"`     // statement: last N movements (0: DefaultMovements)
	Unblock    Unblock   `cbor:"16,keyasint,omitempty" json:"unblock,omitempty"`
	// Proof is, for close-account, the card's INITIALIZE FOR LOAD answer
	// (for any amount; no CREDIT follows): its MAC1 proves the purse
	// balance (BalanceBefore) the desk read. It names the same device and
	// card.
	Proof *LoadInit `cbor:"17,keyasint,omitempty" json:"proof,omitempty"`
}

// ContentType returns TypeServiceRequest.
func (*ServiceRequest) ContentType() string { return TypeServiceRequest }

// fieldSet names the optional fields of a ServiceRequest (bits).
type fieldSet uint16

const (
	fCard fieldSet = 1 << iota
	fAccount
	fPIN
	fNewPIN
	fNationalID
	fTxLimit
	fOrder
	fFee // service, reference and amount
	fCount
	fUnblock
	fProof
)

// tradeFields lists, per trade, the optional fields it needs and those it
// may carry; any other field present is refused.
var tradeFields = map[Trade]struct{ need, may fieldSet }{
	TradeChangePIN:    {fCard | fPIN | fNewPIN, 0},
	TradeSetLimit:     {fCard | fPIN, fTxLimit},
	TradeReportLoss:   {fAccount | fPIN, 0},
	TradeUnfreeze:     {fCard | fPIN | fNationalID, 0},
	TradeReactivate:   {fCard | fPIN, 0},
	TradePayFee:       {fCard | fPIN | fOrder | fFee, 0},
	TradeFeeOrder:     {fOrder, 0},
	TradeStatement:    {fCard | fPIN, fCount},
	TradeResetPIN:     {fCard | fNewPIN, 0},
	TradeUnblock:      {fUnblock, fCard | fAccount}, // and one of card, account
	TradeCloseAccount: {fCard | fProof, 0},
}

// Validate checks the fields' formats and that the trade has the fields
// it needs and no other.
func (m *ServiceRequest) Validate() error {
	const w = "service request"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	if err := checkLen(w, "request id", m.RequestID, RequestIDSize); err != nil {
		return err
	}
	spec, ok := tradeFields[m.Trade]
	if !ok {
		return Errorf(CodeMalformed, "%s: unknown trade %d", w, m.Trade)
	}
	if m.Operator != "" && !validName(m.Operator, MaxOperatorLen) {
		return Errorf(CodeMalformed, "%s: invalid operator id", w)
	}
	fields := []struct {
		f              fieldSet
		present, valid bool
		name           string
	}{
		{fCard, m.CardNo != "", validCardNo(m.CardNo), "card number"},
		{fAccount, m.Account != "", validName(m.Account, MaxAccountIDLen), "account"},
		{fPIN, m.PIN != nil, validPIN(m.PIN), "PIN"},
		{fNewPIN, m.NewPIN != nil, validPIN(m.NewPIN), "new PIN"},
		{fNationalID, m.NationalID != nil, validNationalID(m.NationalID), "national ID number"},
		{fTxLimit, m.TxLimit != 0, m.TxLimit > 0 && m.TxLimit <= MaxTxLimit, "limit"},
		{fOrder, m.OrderID != "", validName(m.OrderID, MaxOrderIDLen), "order id"},
		{fFee, m.Service != "" || m.Reference != "" || m.Amount != 0,
			validName(m.Service, MaxKeyIDLen) && validText(m.Reference, maxTextLen) && m.Amount > 0 && m.Amount <= 0xFFFFFFFF, "service, reference and amount"},
		{fCount, m.Count != 0, m.Count > 0 && m.Count <= MaxMovements, "count"},
		{fUnblock, m.Unblock != 0, m.Unblock&^(UnblockPIN|UnblockID) == 0, "unblock"},
		{fProof, m.Proof != nil, m.Proof != nil && m.Proof.Validate() == nil && m.Proof.DeviceID == m.DeviceID && m.Proof.CardNo == m.CardNo, "proof"},
	}
	for _, f := range fields {
		switch {
		case f.present && (spec.need|spec.may)&f.f == 0:
			return Errorf(CodeMalformed, "%s: %s: no %s in this trade", w, m.Trade, f.name)
		case !f.present && spec.need&f.f != 0:
			return Errorf(CodeMalformed, "%s: %s: %s missing", w, m.Trade, f.name)
		case f.present && !f.valid:
			return Errorf(CodeMalformed, "%s: %s: invalid %s", w, m.Trade, f.name)
		}
	}
	if m.Trade == TradeUnblock && (m.CardNo == "") == (m.Account == "") {
		return Errorf(CodeMalformed, "%s: unblock: a card number or an account, one of them", w)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *ServiceRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("service request", m, MaxServiceRequestSize)
}

func (m *ServiceRequest) decode(b []byte) error {
	*m = ServiceRequest{}
	if err := decodeStrict("service request", b, m, smallDec, MaxServiceRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *ServiceRequest) deviceID() string { return m.DeviceID }

// DecodeServiceRequest decodes a ServiceRequest strictly.
func DecodeServiceRequest(b []byte) (ServiceRequest, error) {
	var m ServiceRequest
	err := m.decode(b)
	return m, err
}

// Movement is one movement of an account's money in a statement.
type Movement struct {
	Seq     uint64 `cbor:"1,keyasint" json:"seq"`
	Time    int64  `cbor:"2,keyasint" json:"time"` // Unix ms
	Kind    string `cbor:"3,keyasint" json:"kind"` // topup, transfer, load, void, fee, ...
	Amount  int64  `cbor:"4,keyasint" json:"amount"`
	Balance int64  `cbor:"5,keyasint" json:"balance"` // the account's balance after it
	Ref     string `cbor:"6,keyasint,omitempty" json:"ref,omitempty"`
}

func (m *Movement) validate() bool {
	return m.Seq > 0 && validName(m.Kind, MaxKeyIDLen) && (m.Ref == "" || validText(m.Ref, maxTextLen))
}

// Fee order states.
const (
	FeeOrderDone uint8 = 1 // the account debited and the service credited, once
)

// FeeOrder is a 网费 / 电费 payment as the ledger holds it.
type FeeOrder struct {
	OrderID   string `cbor:"1,keyasint" json:"order_id"`
	Service   string `cbor:"2,keyasint" json:"service"`
	Reference string `cbor:"3,keyasint" json:"reference"`
	Amount    int64  `cbor:"4,keyasint" json:"amount"`
	State     uint8  `cbor:"5,keyasint" json:"state"`
	Time      int64  `cbor:"6,keyasint" json:"time"`    // Unix ms of the payment
	Receipt   string `cbor:"7,keyasint" json:"receipt"` // the ledger's receipt (F-n)
	Account   string `cbor:"8,keyasint" json:"account"`
}

func (o *FeeOrder) validate() bool {
	return validName(o.OrderID, MaxOrderIDLen) && validName(o.Service, MaxKeyIDLen) && validText(o.Reference, maxTextLen) &&
		o.Amount > 0 && o.State == FeeOrderDone && validName(o.Receipt, MaxKeyIDLen) && validName(o.Account, MaxAccountIDLen)
}

// ServiceAnswer is the ledger's answer to a ServiceRequest that was done.
// Which fields are set depends on the trade: Writes are the card writes
// the trade made pending (the device writes them now, then reports each);
// StatusVersion is, for report-loss, the list version that lists the
// card lost, for unfreeze and reactivate the status-list version the card
// must carry (also in its status write), for close-account the version
// that lists it cancelled. Account, State, Balance, Loadable, TxLimit and
// ValidUntil describe the account after the trade as the ledger holds it
// (a value waiting for a card write is in the write, not here).
type ServiceAnswer struct {
	RequestID     []byte      `cbor:"1,keyasint" json:"request_id"`
	Trade         Trade       `cbor:"2,keyasint" json:"trade"`
	Account       string      `cbor:"3,keyasint,omitempty" json:"account,omitempty"`
	CardNo        string      `cbor:"4,keyasint,omitempty" json:"card_no,omitempty"`
	State         string      `cbor:"5,keyasint,omitempty" json:"state,omitempty"`
	Writes        []CardWrite `cbor:"6,keyasint,omitempty" json:"writes,omitempty"`
	StatusVersion uint64      `cbor:"7,keyasint,omitempty" json:"status_version,omitempty"`
	Balance       int64       `cbor:"8,keyasint,omitempty" json:"balance,omitempty"`
	Loadable      int64       `cbor:"9,keyasint,omitempty" json:"loadable,omitempty"`
	TxLimit       int64       `cbor:"10,keyasint,omitempty" json:"tx_limit,omitempty"`
	ValidUntil    string      `cbor:"11,keyasint,omitempty" json:"valid_until,omitempty"`
	Movements     []Movement  `cbor:"12,keyasint,omitempty" json:"movements,omitempty"`
	Order         *FeeOrder   `cbor:"13,keyasint,omitempty" json:"order,omitempty"`
	// Refund is, for close-account, what the closed account holds for the
	// holder (its balance with the card's purse moved in).
	Refund int64 `cbor:"14,keyasint,omitempty" json:"refund,omitempty"`
}

// ContentType returns TypeServiceAnswer.
func (*ServiceAnswer) ContentType() string { return TypeServiceAnswer }

// Validate checks the fields.
func (m *ServiceAnswer) Validate() error {
	const w = "service answer"
	if err := checkLen(w, "request id", m.RequestID, RequestIDSize); err != nil {
		return err
	}
	switch {
	case m.Trade < TradeChangePIN || m.Trade > TradeCloseAccount:
		return Errorf(CodeMalformed, "%s: unknown trade %d", w, m.Trade)
	case m.Account != "" && !validName(m.Account, MaxAccountIDLen):
		return Errorf(CodeMalformed, "%s: invalid account", w)
	case m.CardNo != "" && !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	case m.State != "" && !validName(m.State, MaxKeyIDLen):
		return Errorf(CodeMalformed, "%s: invalid state", w)
	case m.ValidUntil != "" && !validDate(m.ValidUntil):
		return Errorf(CodeMalformed, "%s: invalid validity end", w)
	case m.Loadable < 0 || m.TxLimit < 0 || m.TxLimit > MaxTxLimit || m.Refund < 0:
		return Errorf(CodeMalformed, "%s: amounts", w)
	case len(m.Writes) > MaxCardWrites:
		return Errorf(CodeTooLarge, "%s: %d card writes", w, len(m.Writes))
	case len(m.Movements) > MaxMovements:
		return Errorf(CodeTooLarge, "%s: %d movements", w, len(m.Movements))
	case m.Order != nil && !m.Order.validate():
		return Errorf(CodeMalformed, "%s: invalid fee order", w)
	}
	for i := range m.Writes {
		if err := m.Writes[i].validate(); err != nil {
			return Errorf(CodeMalformed, "%s: write %d: %v", w, i, err)
		}
	}
	for i := range m.Movements {
		if !m.Movements[i].validate() {
			return Errorf(CodeMalformed, "%s: movement %d", w, i)
		}
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *ServiceAnswer) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("service answer", m, MaxServiceAnswerSize)
}

func (m *ServiceAnswer) decode(b []byte) error {
	*m = ServiceAnswer{}
	if err := decodeStrict("service answer", b, m, smallDec, MaxServiceAnswerSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *ServiceAnswer) deviceID() string { return "" }

// DecodeServiceAnswer decodes a ServiceAnswer strictly.
func DecodeServiceAnswer(b []byte) (ServiceAnswer, error) {
	var m ServiceAnswer
	err := m.decode(b)
	return m, err
}

// validDate: YYYYMMDD digits with a month 01–12 and a day 01–31.
func validDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	m := int(s[4]-'0')*10 + int(s[5]-'0')
	d := int(s[6]-'0')*10 + int(s[7]-'0')
	return m >= 1 && m <= 12 && d >= 1 && d <= 31
}
