package protocol

import "fmt"

// Card writes (issue 15, docs/protocol.md §8.5). A trade that changes what
// a card must say makes a pending card write at the ledger; the device
// with the card writes it and reports the outcome; any kiosk, desk or POS
// asks at a tap which writes wait for a card (补写) and completes them the
// same way. The ledger changes the account only when a write is reported
// written, with the card's read-back (it never believes a card says what
// it does not).
const (
	TypePendingWritesRequest = "yktd/pending-writes-request"
	TypePendingWrites        = "yktd/pending-writes"
	TypeCardWriteReport      = "yktd/card-write-report"
	TypeCardWriteAck         = "yktd/card-write-ack"
	TypeCardWriteMACRequest  = "yktd/card-write-mac-request"
	TypeCardWriteMAC         = "yktd/card-write-mac"

	// PathCardWritesPending takes a PendingWritesRequest and answers
	// PendingWrites.
	PathCardWritesPending = "/v1/cardwrites/pending"
	// PathCardWriteReport takes a CardWriteReport and answers a
	// CardWriteAck.
	PathCardWriteReport = "/v1/cardwrites/report"
	// PathCardWriteMAC takes a CardWriteMACRequest and answers a
	// CardWriteMAC.
	PathCardWriteMAC = "/v1/cardwrites/mac"
)

// Bounds of the card-write messages.
const (
	// MaxCardWrites bounds the writes of one answer.
	MaxCardWrites = 16
	MaxWritesSize = 4096
	// MaxWriteRequestSize bounds the card-write requests and the ack.
	MaxWriteRequestSize = 512
	// MaxWriteCommand bounds CardWriteMACRequest.Command.
	MaxWriteCommand = 64
)

func init() {
	for _, t := range []string{TypePendingWritesRequest, TypeCardWriteReport, TypeCardWriteAck, TypeCardWriteMACRequest, TypeCardWriteMAC} {
		maxSizes[t] = MaxWriteRequestSize
	}
	maxSizes[TypePendingWrites] = MaxWritesSize
}

// WriteField is what a card write changes on the card. The numbers are
// wire values.
type WriteField uint8

// Card write fields, with the value each carries and, in parentheses, how
// the yktd card profile holds it (the bytes a secure-messaging write
// carries, CardWriteMACRequest):
const (
	// FieldPIN: the holder's PIN, by CHANGE PIN with the old and the new
	// PIN the holder keys in (no value: a PIN never leaves the keypad and
	// the ledger; no MAC: the card checks the old PIN).
	FieldPIN WriteField = 1
	// FieldPINReload: a new PIN set by the desk without the old one (PIN
	// RELOAD under the reload key; no value).
	FieldPINReload WriteField = 2
	// FieldTxLimit: the holder's per-transaction limit, TxLimit fen (file
	// 0x12 offset 1: the limit, 4 bytes big-endian, ‖ the daily limit the
	// card holds, 4 bytes).
	FieldTxLimit WriteField = 3
	// FieldStatus: the card's status CardStatus (0 normal, 4 cancelled)
	// and the status-list version StatusVersion it must carry (file 0x12
	// offset 9: the version, 8 bytes big-endian; and, when a terminal
	// locked the card, file 0x15 offset 29: the status byte).
	FieldStatus WriteField = 4
	// FieldValidUntil: the validity end ValidUntil YYYYMMDD (file 0x15
	// offset 24, 4 bytes BCD).
	FieldValidUntil WriteField = 5
)

// String returns the field's stable name.
func (f WriteField) String() string {
	switch f {
	case FieldPIN:
		return "pin"
	case FieldPINReload:
		return "pin-reload"
	case FieldTxLimit:
		return "tx-limit"
	case FieldStatus:
		return "status"
	case FieldValidUntil:
		return "valid-until"
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// WriteState is a card write's state at the ledger.
type WriteState uint8

// Card write states.
const (
	WritePending WriteState = 1 // waits for the card (also after a torn write: Torn)
	WriteWritten WriteState = 2 // the card holds it; the ledger applied it
	WriteFailed  WriteState = 3 // the card refused it, or a desk operator gave it up; the ledger kept what it had
)

// String returns "pending", "written", "failed" or "state(N)".
func (s WriteState) String() string {
	switch s {
	case WritePending:
		return "pending"
	case WriteWritten:
		return "written"
	case WriteFailed:
		return "failed"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// WriteOutcome is what a device reports of a card write.
type WriteOutcome uint8

// Outcomes of a card write.
const (
	OutcomeWritten WriteOutcome = 1 // the card answered 9000 and reads back the value (echo)
	OutcomeFailed  WriteOutcome = 2 // the card refused it: it does not hold the value
	// OutcomeTornUnknown: the card went away after the command was sent:
	// it may or may not hold the value. The write stays pending (Torn);
	// the next device that sees the card completes it.
	OutcomeTornUnknown WriteOutcome = 3
)

// String returns "written", "failed", "torn-unknown" or "outcome(N)".
func (o WriteOutcome) String() string {
	switch o {
	case OutcomeWritten:
		return "written"
	case OutcomeFailed:
		return "failed"
	case OutcomeTornUnknown:
		return "torn-unknown"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// CardWrite is a card write as the ledger hands it out: what to write on
// the card CardNo and the trade it belongs to. The value fields set are
// those of its Field (see the Field constants).
type CardWrite struct {
	WriteID       string     `cbor:"1,keyasint" json:"write_id"` // W-n
	CardNo        string     `cbor:"2,keyasint" json:"card_no"`
	Field         WriteField `cbor:"3,keyasint" json:"field"`
	Trade         Trade      `cbor:"4,keyasint" json:"trade"`
	State         WriteState `cbor:"5,keyasint" json:"state"`
	TxLimit       int64      `cbor:"6,keyasint,omitempty" json:"tx_limit,omitempty"`
	CardStatus    uint8      `cbor:"7,keyasint,omitempty" json:"card_status,omitempty"`
	StatusVersion uint64     `cbor:"8,keyasint,omitempty" json:"status_version,omitempty"`
	ValidUntil    string     `cbor:"9,keyasint,omitempty" json:"valid_until,omitempty"`
	// Torn: a device reported it torn-unknown: the card may hold it
	// already (writing the same value again is harmless; for a PIN,
	// VERIFY the new one first).
	Torn    bool  `cbor:"10,keyasint,omitempty" json:"torn,omitempty"`
	Created int64 `cbor:"11,keyasint" json:"created"` // Unix ms
}

// CardValues are the values of a write or of a card's read-back.
type CardValues struct {
	TxLimit       int64
	CardStatus    uint8
	StatusVersion uint64
	ValidUntil    string
}

// CheckValues checks that v are valid values for field f and that no
// value of another field is set.
func CheckValues(f WriteField, v CardValues) error {
	zero := CardValues{}
	ok := false
	switch f {
	case FieldPIN, FieldPINReload:
		ok = v == zero
	case FieldTxLimit:
		ok = v.TxLimit >= 0 && v.TxLimit <= MaxTxLimit && v.CardStatus == 0 && v.StatusVersion == 0 && v.ValidUntil == ""
	case FieldStatus:
		ok = v.TxLimit == 0 && v.StatusVersion > 0 && v.StatusVersion <= 0xFFFFFFFF && v.ValidUntil == ""
	case FieldValidUntil:
		ok = v.TxLimit == 0 && v.CardStatus == 0 && v.StatusVersion == 0 && validDate(v.ValidUntil)
	default:
		return fmt.Errorf("unknown field %d", f)
	}
	if !ok {
		return fmt.Errorf("values of a %s write: %+v", f, v)
	}
	return nil
}

// Values returns the values the write carries.
func (w *CardWrite) Values() CardValues {
	return CardValues{TxLimit: w.TxLimit, CardStatus: w.CardStatus, StatusVersion: w.StatusVersion, ValidUntil: w.ValidUntil}
}

func (w *CardWrite) validate() error {
	switch {
	case !validName(w.WriteID, MaxKeyIDLen):
		return fmt.Errorf("invalid write id")
	case !validCardNo(w.CardNo):
		return fmt.Errorf("invalid card number")
	case w.Trade < TradeChangePIN || w.Trade > TradeExtend:
		return fmt.Errorf("unknown trade %d", w.Trade)
	case w.State < WritePending || w.State > WriteFailed:
		return fmt.Errorf("unknown state %d", w.State)
	case w.Created < 0:
		return fmt.Errorf("created %d", w.Created)
	}
	return CheckValues(w.Field, w.Values())
}

// PendingWritesRequest asks which card writes wait for the card (补写),
// at a tap of any kiosk, desk or POS. A desk names its operator.
type PendingWritesRequest struct {
	DeviceID string `cbor:"1,keyasint" json:"device_id"`
	CardNo   string `cbor:"2,keyasint" json:"card_no"`
	Operator string `cbor:"3,keyasint,omitempty" json:"operator,omitempty"`
}

// ContentType returns TypePendingWritesRequest.
func (*PendingWritesRequest) ContentType() string { return TypePendingWritesRequest }

// Validate checks the fields.
func (m *PendingWritesRequest) Validate() error {
	const w = "pending writes request"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	if !validCardNo(m.CardNo) || (m.Operator != "" && !validName(m.Operator, MaxOperatorLen)) {
		return Errorf(CodeMalformed, "%s: invalid card number or operator", w)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *PendingWritesRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("pending writes request", m, MaxWriteRequestSize)
}

func (m *PendingWritesRequest) decode(b []byte) error {
	*m = PendingWritesRequest{}
	if err := decodeStrict("pending writes request", b, m, smallDec, MaxWriteRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *PendingWritesRequest) deviceID() string { return m.DeviceID }

// DecodePendingWritesRequest decodes a PendingWritesRequest strictly.
func DecodePendingWritesRequest(b []byte) (PendingWritesRequest, error) {
	var m PendingWritesRequest
	err := m.decode(b)
	return m, err
}

// PendingWrites lists the card writes waiting for a card, oldest first
// (at most MaxCardWrites; a card has at most one per kind of field).
type PendingWrites struct {
	CardNo string      `cbor:"1,keyasint" json:"card_no"`
	Writes []CardWrite `cbor:"2,keyasint" json:"writes"`
}

// ContentType returns TypePendingWrites.
func (*PendingWrites) ContentType() string { return TypePendingWrites }

// Validate checks the fields.
func (m *PendingWrites) Validate() error {
	const w = "pending writes"
	if !validCardNo(m.CardNo) {
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	}
	if len(m.Writes) > MaxCardWrites {
		return Errorf(CodeTooLarge, "%s: %d writes", w, len(m.Writes))
	}
	for i := range m.Writes {
		if err := m.Writes[i].validate(); err != nil {
			return Errorf(CodeMalformed, "%s: write %d: %v", w, i, err)
		}
		if m.Writes[i].CardNo != m.CardNo || m.Writes[i].State != WritePending {
			return Errorf(CodeMalformed, "%s: write %d of another card or not pending", w, i)
		}
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *PendingWrites) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("pending writes", m, MaxWritesSize)
}

func (m *PendingWrites) decode(b []byte) error {
	*m = PendingWrites{}
	if err := decodeStrict("pending writes", b, m, smallDec, MaxWritesSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *PendingWrites) deviceID() string { return "" }

// DecodePendingWrites decodes a PendingWrites strictly.
func DecodePendingWrites(b []byte) (PendingWrites, error) {
	var m PendingWrites
	err := m.decode(b)
	return m, err
}

// CardWriteReport reports the outcome of a card write. Written carries
// the card's read-back of the field in the value fields (the echo; none
// for a PIN write), which must equal the write's values. A desk names its
// operator; a desk may report a write failed without the card (the
// operator gives it up).
type CardWriteReport struct {
	DeviceID      string       `cbor:"1,keyasint" json:"device_id"`
	WriteID       string       `cbor:"2,keyasint" json:"write_id"`
	CardNo        string       `cbor:"3,keyasint" json:"card_no"`
	Outcome       WriteOutcome `cbor:"4,keyasint" json:"outcome"`
	Operator      string       `cbor:"5,keyasint,omitempty" json:"operator,omitempty"`
	TxLimit       int64        `cbor:"6,keyasint,omitempty" json:"tx_limit,omitempty"`
	CardStatus    uint8        `cbor:"7,keyasint,omitempty" json:"card_status,omitempty"`
	StatusVersion uint64       `cbor:"8,keyasint,omitempty" json:"status_version,omitempty"`
	ValidUntil    string       `cbor:"9,keyasint,omitempty" json:"valid_until,omitempty"`
}

// ContentType returns TypeCardWriteReport.
func (*CardWriteReport) ContentType() string { return TypeCardWriteReport }

// Echo returns the read-back values the report carries.
func (m *CardWriteReport) Echo() CardValues {
	return CardValues{TxLimit: m.TxLimit, CardStatus: m.CardStatus, StatusVersion: m.StatusVersion, ValidUntil: m.ValidUntil}
}

// Validate checks the fields (the echo's against the write's field is the
// ledger's check: the report does not name the field).
func (m *CardWriteReport) Validate() error {
	const w = "card write report"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	e := m.Echo()
	switch {
	case !validName(m.WriteID, MaxKeyIDLen) || !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "%s: invalid write id or card number", w)
	case m.Outcome < OutcomeWritten || m.Outcome > OutcomeTornUnknown:
		return Errorf(CodeMalformed, "%s: unknown outcome %d", w, m.Outcome)
	case m.Operator != "" && !validName(m.Operator, MaxOperatorLen):
		return Errorf(CodeMalformed, "%s: invalid operator", w)
	case m.Outcome != OutcomeWritten && e != CardValues{}:
		return Errorf(CodeMalformed, "%s: a read-back with outcome %s", w, m.Outcome)
	case e.TxLimit < 0 || e.TxLimit > MaxTxLimit || e.StatusVersion > 0xFFFFFFFF || (e.ValidUntil != "" && !validDate(e.ValidUntil)):
		return Errorf(CodeMalformed, "%s: invalid read-back", w)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *CardWriteReport) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("card write report", m, MaxWriteRequestSize)
}

func (m *CardWriteReport) decode(b []byte) error {
	*m = CardWriteReport{}
	if err := decodeStrict("card write report", b, m, smallDec, MaxWriteRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *CardWriteReport) deviceID() string { return m.DeviceID }

// DecodeCardWriteReport decodes a CardWriteReport strictly.
func DecodeCardWriteReport(b []byte) (CardWriteReport, error) {
	var m CardWriteReport
	err := m.decode(b)
	return m, err
}

// CardWriteAck answers a CardWriteReport with the write's state at the
// ledger afterwards: pending after torn-unknown, else written or failed.
// A report of a write already finished changes nothing and answers its
// state (which may not be the outcome reported). StatusVersion is, after
// a status write applied, the status-list version that no longer lists
// the card (unfreeze, reactivate) or lists it (close-account).
type CardWriteAck struct {
	WriteID       string     `cbor:"1,keyasint" json:"write_id"`
	State         WriteState `cbor:"2,keyasint" json:"state"`
	StatusVersion uint64     `cbor:"3,keyasint,omitempty" json:"status_version,omitempty"`
}

// ContentType returns TypeCardWriteAck.
func (*CardWriteAck) ContentType() string { return TypeCardWriteAck }

// Validate checks the fields.
func (m *CardWriteAck) Validate() error {
	if !validName(m.WriteID, MaxKeyIDLen) || m.State < WritePending || m.State > WriteFailed {
		return Errorf(CodeMalformed, "card write ack: invalid write id or state")
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *CardWriteAck) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("card write ack", m, MaxWriteRequestSize)
}

func (m *CardWriteAck) decode(b []byte) error {
	*m = CardWriteAck{}
	if err := decodeStrict("card write ack", b, m, smallDec, MaxWriteRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *CardWriteAck) deviceID() string { return "" }

// DecodeCardWriteAck decodes a CardWriteAck strictly.
func DecodeCardWriteAck(b []byte) (CardWriteAck, error) {
	var m CardWriteAck
	err := m.decode(b)
	return m, err
}

// Challenge sizes of a card's GET CHALLENGE.
const (
	ChallengeSize4 = 4
	ChallengeSize8 = 8
)

// CardWriteMACRequest asks the MAC of a secure-messaging card write (UPDATE
// BINARY under the maintenance key for tx-limit, status and valid-until;
// PIN RELOAD under the reload key for pin-reload), for a pending write of
// this card: the card's serial (key diversification), the key version,
// the card's fresh GET CHALLENGE and the command the device will send
// (header with Lc including the MAC, and data; no MAC). For an update the
// data must carry the write's value bytes (see the Field constants).
type CardWriteMACRequest struct {
	DeviceID   string `cbor:"1,keyasint" json:"device_id"`
	WriteID    string `cbor:"2,keyasint" json:"write_id"`
	CardNo     string `cbor:"3,keyasint" json:"card_no"`
	CardSerial []byte `cbor:"4,keyasint" json:"card_serial"` // 8 bytes
	KeyVersion uint8  `cbor:"5,keyasint" json:"key_version"`
	Challenge  []byte `cbor:"6,keyasint" json:"challenge"` // 4 or 8 bytes
	Command    []byte `cbor:"7,keyasint" json:"command"`   // 5..64 bytes
	Operator   string `cbor:"8,keyasint,omitempty" json:"operator,omitempty"`
	// Algorithm is the card's algorithm identifier (its INITIALIZE
	// answer's: 0 3DES, 4 SM4), which says the cipher of the MAC.
	Algorithm uint8 `cbor:"9,keyasint,omitempty" json:"algorithm,omitempty"`
}

// ContentType returns TypeCardWriteMACRequest.
func (*CardWriteMACRequest) ContentType() string { return TypeCardWriteMACRequest }

// Validate checks the fields.
func (m *CardWriteMACRequest) Validate() error {
	const w = "card write mac request"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	switch {
	case !validName(m.WriteID, MaxKeyIDLen) || !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "%s: invalid write id or card number", w)
	case len(m.Challenge) != ChallengeSize4 && len(m.Challenge) != ChallengeSize8:
		return Errorf(CodeMalformed, "%s: challenge of %d bytes", w, len(m.Challenge))
	case len(m.Command) < 5 || len(m.Command) > MaxWriteCommand:
		return Errorf(CodeMalformed, "%s: command of %d bytes", w, len(m.Command))
	case m.Operator != "" && !validName(m.Operator, MaxOperatorLen):
		return Errorf(CodeMalformed, "%s: invalid operator", w)
	case m.Algorithm != 0 && m.Algorithm != 4:
		return Errorf(CodeMalformed, "%s: algorithm %02X, want 00 (3DES) or 04 (SM4)", w, m.Algorithm)
	}
	return checkLen(w, "card serial", m.CardSerial, CardSerialSize)
}

// Encode validates m and returns its canonical encoding.
func (m *CardWriteMACRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("card write mac request", m, MaxWriteRequestSize)
}

func (m *CardWriteMACRequest) decode(b []byte) error {
	*m = CardWriteMACRequest{}
	if err := decodeStrict("card write mac request", b, m, smallDec, MaxWriteRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *CardWriteMACRequest) deviceID() string { return m.DeviceID }

// DecodeCardWriteMACRequest decodes a CardWriteMACRequest strictly.
func DecodeCardWriteMACRequest(b []byte) (CardWriteMACRequest, error) {
	var m CardWriteMACRequest
	err := m.decode(b)
	return m, err
}

// CardWriteMAC answers a CardWriteMACRequest: MAC is the 4-byte MAC the
// command carries, absent when the ledger's key service makes no card
// write MACs (the device can then write only a card whose file takes
// plain writes, else it reports the write failed).
type CardWriteMAC struct {
	WriteID string `cbor:"1,keyasint" json:"write_id"`
	MAC     []byte `cbor:"2,keyasint,omitempty" json:"mac,omitempty"`
}

// ContentType returns TypeCardWriteMAC.
func (*CardWriteMAC) ContentType() string { return TypeCardWriteMAC }

// Validate checks the fields.
func (m *CardWriteMAC) Validate() error {
	if !validName(m.WriteID, MaxKeyIDLen) || (m.MAC != nil && len(m.MAC) != CryptogramSize) {
		return Errorf(CodeMalformed, "card write mac: invalid write id or mac")
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *CardWriteMAC) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("card write mac", m, MaxWriteRequestSize)
}

func (m *CardWriteMAC) decode(b []byte) error {
	*m = CardWriteMAC{}
	if err := decodeStrict("card write mac", b, m, smallDec, MaxWriteRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *CardWriteMAC) deviceID() string { return "" }

// DecodeCardWriteMAC decodes a CardWriteMAC strictly.
func DecodeCardWriteMAC(b []byte) (CardWriteMAC, error) {
	var m CardWriteMAC
	err := m.decode(b)
	return m, err
}
