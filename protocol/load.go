package protocol

import (
	"fmt"
	"time"
)

// MaxLoadSize bounds an encoded load message (LoadInit, LoadConfirm and
// their responses) and a PendingRequest.
const MaxLoadSize = 1024

// MaxPendingLoads bounds the loads of a Pending answer; MaxPendingSize its
// encoding.
const (
	MaxPendingLoads = 64
	MaxPendingSize  = 8192
)

// RandomSize is the size of the card's random in INITIALIZE FOR LOAD.
const RandomSize = 4

// PendingRequest asks which loads (圈存) wait for a card.
type PendingRequest struct {
	DeviceID string `cbor:"1,keyasint" json:"device_id"`
	CardNo   string `cbor:"2,keyasint" json:"card_no"`
}

// ContentType returns TypePendingRequest.
func (*PendingRequest) ContentType() string { return TypePendingRequest }

// Validate checks the device id and card number.
func (m *PendingRequest) Validate() error {
	if err := checkDevice("pending request", m.DeviceID); err != nil {
		return err
	}
	if !validCardNo(m.CardNo) {
		return Errorf(CodeMalformed, "pending request: invalid card number")
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *PendingRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("pending request", m, MaxRequestSize)
}

func (m *PendingRequest) decode(b []byte) error {
	*m = PendingRequest{}
	if err := decodeStrict("pending request", b, m, smallDec, MaxRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *PendingRequest) deviceID() string { return m.DeviceID }

// DecodePendingRequest decodes a PendingRequest strictly.
func DecodePendingRequest(b []byte) (PendingRequest, error) {
	var m PendingRequest
	err := m.decode(b)
	return m, err
}

// PendingLoad is one load waiting for the card: Amount fen, created at
// Created (Unix milliseconds).
type PendingLoad struct {
	LoadID  string `cbor:"1,keyasint" json:"load_id"`
	Amount  int64  `cbor:"2,keyasint" json:"amount"`
	Created int64  `cbor:"3,keyasint" json:"created"`
}

// Pending lists the loads waiting for CardNo (possibly none).
type Pending struct {
	CardNo string        `cbor:"1,keyasint" json:"card_no"`
	Loads  []PendingLoad `cbor:"2,keyasint" json:"loads"`
}

// ContentType returns TypePending.
func (*Pending) ContentType() string { return TypePending }

// Validate checks the card number and loads.
func (m *Pending) Validate() error {
	const w = "pending"
	if !validCardNo(m.CardNo) {
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	}
	if len(m.Loads) > MaxPendingLoads {
		return Errorf(CodeTooLarge, "%s: %d loads, at most %d", w, len(m.Loads), MaxPendingLoads)
	}
	for i, l := range m.Loads {
		if !validName(l.LoadID, MaxKeyIDLen) || l.Amount <= 0 {
			return Errorf(CodeMalformed, "%s: load %d: invalid id or amount", w, i)
		}
	}
	return nil
}

// Total returns the sum of the pending amounts, in fen.
func (m *Pending) Total() int64 {
	var t int64
	for _, l := range m.Loads {
		t += l.Amount
	}
	return t
}

// Encode validates m and returns its canonical encoding.
func (m *Pending) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("pending", m, MaxPendingSize)
}

func (m *Pending) decode(b []byte) error {
	*m = Pending{}
	if err := decodeStrict("pending", b, m, smallDec, MaxPendingSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *Pending) deviceID() string { return "" }

// DecodePending decodes a Pending strictly.
func DecodePending(b []byte) (Pending, error) {
	var m Pending
	err := m.decode(b)
	return m, err
}

// LoadInit sends the card's answer to INITIALIZE FOR LOAD to the ledger,
// which checks MAC1 under the card's load key (diversified by CardSerial),
// claims the card's pending loads totalling Amount, and answers MAC2 for
// CREDIT FOR LOAD. The fields are the card's and the kiosk's exactly as
// sent or returned (DESIGN.md 4).
//
// TxTime, when present, is the date and time the kiosk will send in CREDIT
// FOR LOAD (MAC2 covers it): the ledger accepts it within LoadTimeSkew of
// its own clock and computes MAC2 over it. Without it the ledger picks the
// time itself and the kiosk must send LoadInitResponse.TxTime.
type LoadInit struct {
	DeviceID      string `cbor:"1,keyasint" json:"device_id"`
	CardNo        string `cbor:"2,keyasint" json:"card_no"`
	CardSerial    []byte `cbor:"3,keyasint" json:"card_serial"`    // 8 bytes, key diversification factor
	TerminalID    []byte `cbor:"4,keyasint" json:"terminal_id"`    // 6 bytes, as sent in INITIALIZE FOR LOAD
	OnlineCounter uint16 `cbor:"5,keyasint" json:"online_counter"` // the card's online counter before the load
	BalanceBefore int64  `cbor:"6,keyasint" json:"balance_before"` // fen, as the card returned it
	Amount        int64  `cbor:"7,keyasint" json:"amount"`         // fen, as sent in INITIALIZE FOR LOAD
	KeyIndex      uint8  `cbor:"8,keyasint" json:"key_index"`
	KeyVersion    uint8  `cbor:"9,keyasint" json:"key_version"`
	Algorithm     uint8  `cbor:"10,keyasint" json:"algorithm"` // 00 3DES, 04 SM4, as the card returned it
	Random        []byte `cbor:"11,keyasint" json:"random"`    // 4 bytes
	MAC1          []byte `cbor:"12,keyasint" json:"mac1"`      // 4 bytes
	// TxTime is optional: 7-byte BCD YYYYMMDDhhmmss (local time), as the
	// kiosk will send it in CREDIT FOR LOAD.
	TxTime []byte `cbor:"13,keyasint,omitempty" json:"tx_time,omitempty"`
}

// LoadTimeSkew is how far LoadInit.TxTime may be from the ledger's clock,
// either way; further is refused as malformed (the kiosk's clock is wrong).
const LoadTimeSkew = 5 * time.Minute

// ContentType returns TypeLoadInit.
func (*LoadInit) ContentType() string { return TypeLoadInit }

// Validate checks the fields' formats.
func (m *LoadInit) Validate() error {
	const w = "load init"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	if !validCardNo(m.CardNo) {
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	}
	for _, f := range []struct {
		name string
		b    []byte
		n    int
	}{
		{"card serial", m.CardSerial, CardSerialSize},
		{"terminal id", m.TerminalID, TerminalIDSize},
		{"random", m.Random, RandomSize},
		{"mac1", m.MAC1, CryptogramSize},
	} {
		if err := checkLen(w, f.name, f.b, f.n); err != nil {
			return err
		}
	}
	if m.Amount <= 0 || m.BalanceBefore < 0 {
		return Errorf(CodeMalformed, "%s: amount %d, balance %d", w, m.Amount, m.BalanceBefore)
	}
	if m.TxTime != nil {
		if _, err := ParseTxTime(m.TxTime, time.UTC); err != nil {
			return Errorf(CodeMalformed, "%s: %v", w, err)
		}
	}
	return nil
}

// ParseTxTime decodes a 7-byte BCD date-time YYYYMMDDhhmmss (as sent to a
// card in DEBIT or CREDIT) in loc. It fails on another length, a non-BCD
// digit or an impossible date or time.
func ParseTxTime(b []byte, loc *time.Location) (time.Time, error) {
	if len(b) != TxTimeSize {
		return time.Time{}, fmt.Errorf("tx time is %d bytes, want %d", len(b), TxTimeSize)
	}
	var n [TxTimeSize]int
	for i, c := range b {
		hi, lo := c>>4, c&0x0F
		if hi > 9 || lo > 9 {
			return time.Time{}, fmt.Errorf("tx time %X: not BCD", b)
		}
		n[i] = int(hi)*10 + int(lo)
	}
	y := n[0]*100 + n[1]
	t := time.Date(y, time.Month(n[2]), n[3], n[4], n[5], n[6], 0, loc)
	if t.Year() != y || int(t.Month()) != n[2] || t.Day() != n[3] || t.Hour() != n[4] || t.Minute() != n[5] || t.Second() != n[6] {
		return time.Time{}, fmt.Errorf("tx time %X: not a valid date and time", b)
	}
	return t, nil
}

// Encode validates m and returns its canonical encoding.
func (m *LoadInit) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("load init", m, MaxLoadSize)
}

func (m *LoadInit) decode(b []byte) error {
	*m = LoadInit{}
	if err := decodeStrict("load init", b, m, smallDec, MaxLoadSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *LoadInit) deviceID() string { return m.DeviceID }

// DecodeLoadInit decodes a LoadInit strictly.
func DecodeLoadInit(b []byte) (LoadInit, error) {
	var m LoadInit
	err := m.decode(b)
	return m, err
}

// LoadInitResponse gives the kiosk what CREDIT FOR LOAD needs: the
// transaction time TxTime (7-byte BCD date ‖ time) and MAC2 the ledger
// computed over it. LoadID names the claim for LoadConfirm.
type LoadInitResponse struct {
	LoadID string `cbor:"1,keyasint" json:"load_id"`
	Amount int64  `cbor:"2,keyasint" json:"amount"`
	TxTime []byte `cbor:"3,keyasint" json:"tx_time"`
	MAC2   []byte `cbor:"4,keyasint" json:"mac2"`
}

// ContentType returns TypeLoadInitResponse.
func (*LoadInitResponse) ContentType() string { return TypeLoadInitResponse }

// Validate checks the fields' formats.
func (m *LoadInitResponse) Validate() error {
	const w = "load init response"
	if !validName(m.LoadID, MaxKeyIDLen) {
		return Errorf(CodeMalformed, "%s: invalid load id", w)
	}
	if m.Amount <= 0 {
		return Errorf(CodeMalformed, "%s: amount %d", w, m.Amount)
	}
	if err := checkLen(w, "tx time", m.TxTime, TxTimeSize); err != nil {
		return err
	}
	return checkLen(w, "mac2", m.MAC2, CryptogramSize)
}

// Encode validates m and returns its canonical encoding.
func (m *LoadInitResponse) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("load init response", m, MaxLoadSize)
}

func (m *LoadInitResponse) decode(b []byte) error {
	*m = LoadInitResponse{}
	if err := decodeStrict("load init response", b, m, smallDec, MaxLoadSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *LoadInitResponse) deviceID() string { return "" }

// DecodeLoadInitResponse decodes a LoadInitResponse strictly.
func DecodeLoadInitResponse(b []byte) (LoadInitResponse, error) {
	var m LoadInitResponse
	err := m.decode(b)
	return m, err
}

// LoadConfirm reports the card's answer to CREDIT FOR LOAD: the TAC and the
// balance after. The ledger verifies the TAC and settles the load.
type LoadConfirm struct {
	DeviceID      string `cbor:"1,keyasint" json:"device_id"`
	LoadID        string `cbor:"2,keyasint" json:"load_id"`
	CardNo        string `cbor:"3,keyasint" json:"card_no"`
	OnlineCounter uint16 `cbor:"4,keyasint" json:"online_counter"` // as in LoadInit
	TAC           []byte `cbor:"5,keyasint" json:"tac"`            // 4 bytes
	BalanceAfter  int64  `cbor:"6,keyasint" json:"balance_after"`
}

// ContentType returns TypeLoadConfirm.
func (*LoadConfirm) ContentType() string { return TypeLoadConfirm }

// Validate checks the fields' formats.
func (m *LoadConfirm) Validate() error {
	const w = "load confirm"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	switch {
	case !validName(m.LoadID, MaxKeyIDLen):
		return Errorf(CodeMalformed, "%s: invalid load id", w)
	case !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	case m.BalanceAfter < 0:
		return Errorf(CodeMalformed, "%s: balance %d", w, m.BalanceAfter)
	}
	return checkLen(w, "tac", m.TAC, CryptogramSize)
}

// Encode validates m and returns its canonical encoding.
func (m *LoadConfirm) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("load confirm", m, MaxLoadSize)
}

func (m *LoadConfirm) decode(b []byte) error {
	*m = LoadConfirm{}
	if err := decodeStrict("load confirm", b, m, smallDec, MaxLoadSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *LoadConfirm) deviceID() string { return m.DeviceID }

// DecodeLoadConfirm decodes a LoadConfirm strictly.
func DecodeLoadConfirm(b []byte) (LoadConfirm, error) {
	var m LoadConfirm
	err := m.decode(b)
	return m, err
}

// LoadState is the state of a load at the ledger; the numbers are wire
// values.
type LoadState uint8

// Load states.
const (
	LoadPending   LoadState = 1 // waiting for the card
	LoadInitiated LoadState = 2 // MAC2 was given out; the card may or may not have been credited
	LoadCompleted LoadState = 3 // the TAC verified: the card was credited and the load is settled
	LoadCancelled LoadState = 4 // withdrawn before it reached the card
	loadStateMax            = LoadCancelled
)

// String returns "pending", "initiated", "completed", "cancelled" or
// "state(N)".
func (s LoadState) String() string {
	switch s {
	case LoadPending:
		return "pending"
	case LoadInitiated:
		return "initiated"
	case LoadCompleted:
		return "completed"
	case LoadCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// LoadConfirmResponse tells the kiosk the state of the load after its
// confirmation (LoadCompleted when the TAC verified).
type LoadConfirmResponse struct {
	LoadID string    `cbor:"1,keyasint" json:"load_id"`
	State  LoadState `cbor:"2,keyasint" json:"state"`
}

// ContentType returns TypeLoadConfirmResponse.
func (*LoadConfirmResponse) ContentType() string { return TypeLoadConfirmResponse }

// Validate checks the fields' formats.
func (m *LoadConfirmResponse) Validate() error {
	if !validName(m.LoadID, MaxKeyIDLen) || m.State == 0 || m.State > loadStateMax {
		return Errorf(CodeMalformed, "load confirm response: invalid load id or state %d", m.State)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *LoadConfirmResponse) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("load confirm response", m, MaxLoadSize)
}

func (m *LoadConfirmResponse) decode(b []byte) error {
	*m = LoadConfirmResponse{}
	if err := decodeStrict("load confirm response", b, m, smallDec, MaxLoadSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *LoadConfirmResponse) deviceID() string { return "" }

// DecodeLoadConfirmResponse decodes a LoadConfirmResponse strictly.
func DecodeLoadConfirmResponse(b []byte) (LoadConfirmResponse, error) {
	var m LoadConfirmResponse
	err := m.decode(b)
	return m, err
}
