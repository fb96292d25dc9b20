package protocol

import "fmt"

// Content types of the account messages (issue 14).
const (
	TypeClaimRequest     = "yktd/claim-request"
	TypeClaims           = "yktd/claims"
	TypeTransferRequest  = "yktd/transfer-request"
	TypeTransferResponse = "yktd/transfer-response"
)

// Bounds of the account messages.
const (
	MaxClaimsSize   = 512
	MaxTransferSize = 512
	// RequestIDSize is the size of TransferRequest.RequestID.
	RequestIDSize = 16
	// MaxAccountIDLen bounds an account id.
	MaxAccountIDLen = 32
)

func init() {
	maxSizes[TypeClaimRequest] = MaxRequestSize
	maxSizes[TypeClaims] = MaxClaimsSize
	maxSizes[TypeTransferRequest] = MaxTransferSize
	maxSizes[TypeTransferResponse] = MaxTransferSize
}

// ClaimRequest asks what the card's account holds for loading (领取) and
// whether a load would be refused. CardBalance, when the device has read
// the card, is the purse's balance (fen): Claims.Claimable then respects
// the card's purse limit.
type ClaimRequest struct {
	DeviceID    string `cbor:"1,keyasint" json:"device_id"`
	CardNo      string `cbor:"2,keyasint" json:"card_no"`
	CardBalance int64  `cbor:"3,keyasint,omitempty" json:"card_balance,omitempty"`
}

// ContentType returns TypeClaimRequest.
func (*ClaimRequest) ContentType() string { return TypeClaimRequest }

// Validate checks the device id, card number and balance.
func (m *ClaimRequest) Validate() error {
	if err := checkDevice("claim request", m.DeviceID); err != nil {
		return err
	}
	if !validCardNo(m.CardNo) || m.CardBalance < 0 || m.CardBalance > 0xFFFFFFFF {
		return Errorf(CodeMalformed, "claim request: invalid card number or balance")
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *ClaimRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("claim request", m, MaxRequestSize)
}

func (m *ClaimRequest) decode(b []byte) error {
	*m = ClaimRequest{}
	if err := decodeStrict("claim request", b, m, smallDec, MaxRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *ClaimRequest) deviceID() string { return m.DeviceID }

// DecodeClaimRequest decodes a ClaimRequest strictly.
func DecodeClaimRequest(b []byte) (ClaimRequest, error) {
	var m ClaimRequest
	err := m.decode(b)
	return m, err
}

// Claims answers a ClaimRequest. Account is the card's account ("": none;
// the card's loads from before accounts, if any, are Loadable). Loadable
// is what the account holds marked for loading; Claimable what a load may
// move onto this card now (Loadable within the purse limit, 0 when
// Refusal is set). Refusal is the code a LoadInit would be refused with
// now (spend-only, overdrawn-frozen, account-lost ...; 0 none): a POS
// skips the claim and sells.
type Claims struct {
	CardNo     string `cbor:"1,keyasint" json:"card_no"`
	Account    string `cbor:"2,keyasint,omitempty" json:"account,omitempty"`
	Loadable   int64  `cbor:"3,keyasint" json:"loadable"`
	Claimable  int64  `cbor:"4,keyasint" json:"claimable"`
	Refusal    Code   `cbor:"5,keyasint,omitempty" json:"refusal,omitempty"`
	PurseLimit int64  `cbor:"6,keyasint,omitempty" json:"purse_limit,omitempty"`
	TxLimit    int64  `cbor:"7,keyasint,omitempty" json:"tx_limit,omitempty"`
	// Unsettled: a load of this card is authorised at the ledger and not
	// settled (torn at a device the card has not returned to). A device
	// with the card reports the card's online counter (PathLoadProbe),
	// which settles it: a later counter proves the credit, the same one
	// proves there was none and the money is claimable again.
	Unsettled bool `cbor:"8,keyasint,omitempty" json:"unsettled,omitempty"`
}

// ContentType returns TypeClaims.
func (*Claims) ContentType() string { return TypeClaims }

// Validate checks the fields.
func (m *Claims) Validate() error {
	switch {
	case !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "claims: invalid card number")
	case m.Account != "" && !validName(m.Account, MaxAccountIDLen):
		return Errorf(CodeMalformed, "claims: invalid account id")
	case m.Loadable < 0 || m.Claimable < 0 || m.Claimable > m.Loadable || m.PurseLimit < 0 || m.TxLimit < 0:
		return Errorf(CodeMalformed, "claims: amounts %d, %d, %d, %d", m.Loadable, m.Claimable, m.PurseLimit, m.TxLimit)
	case m.Refusal != 0 && m.Claimable != 0:
		return Errorf(CodeMalformed, "claims: refused with %d claimable", m.Claimable)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *Claims) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("claims", m, MaxClaimsSize)
}

func (m *Claims) decode(b []byte) error {
	*m = Claims{}
	if err := decodeStrict("claims", b, m, smallDec, MaxClaimsSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *Claims) deviceID() string { return "" }

// DecodeClaims decodes a Claims strictly.
func DecodeClaims(b []byte) (Claims, error) {
	var m Claims
	err := m.decode(b)
	return m, err
}

// SecretPIN is a holder's PIN in a request (ASCII digits). It prints as
// "******" in every fmt verb and in JSON, so that a log line or a debug
// dump of a message never shows it; CBOR carries its bytes.
type SecretPIN []byte

// Format writes ****** whatever the verb.
func (SecretPIN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("******")) }

// MarshalJSON writes "******".
func (SecretPIN) MarshalJSON() ([]byte, error) { return []byte(`"******"`), nil }

func validPIN(p []byte) bool {
	if len(p) < 4 || len(p) > 12 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// TransferRequest asks the ledger for a 银校转账: Amount fen from the bank
// account bound to the card's account into the account, marked for
// loading, authorised by the holder's PIN (checked at the ledger against
// the account's verification value; see docs/protocol.md §11.3 for how
// the PIN travels). RequestID (random, per attempt) makes a retry of the
// same request idempotent: the same answer, one transfer.
type TransferRequest struct {
	DeviceID  string    `cbor:"1,keyasint" json:"device_id"`
	CardNo    string    `cbor:"2,keyasint" json:"card_no"`
	RequestID []byte    `cbor:"3,keyasint" json:"request_id"`
	Amount    int64     `cbor:"4,keyasint" json:"amount"`
	PIN       SecretPIN `cbor:"5,keyasint" json:"pin"`
}

// ContentType returns TypeTransferRequest.
func (*TransferRequest) ContentType() string { return TypeTransferRequest }

// Validate checks the fields' formats.
func (m *TransferRequest) Validate() error {
	const w = "transfer request"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	switch {
	case !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	case m.Amount <= 0 || m.Amount > 0xFFFFFFFF:
		return Errorf(CodeMalformed, "%s: amount %d", w, m.Amount)
	case !validPIN(m.PIN):
		return Errorf(CodeMalformed, "%s: the PIN is not 4 to 12 digits", w)
	}
	return checkLen(w, "request id", m.RequestID, RequestIDSize)
}

// Encode validates m and returns its canonical encoding.
func (m *TransferRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("transfer request", m, MaxTransferSize)
}

func (m *TransferRequest) decode(b []byte) error {
	*m = TransferRequest{}
	if err := decodeStrict("transfer request", b, m, smallDec, MaxTransferSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *TransferRequest) deviceID() string { return m.DeviceID }

// DecodeTransferRequest decodes a TransferRequest strictly.
func DecodeTransferRequest(b []byte) (TransferRequest, error) {
	var m TransferRequest
	err := m.decode(b)
	return m, err
}

// TransferResponse says the transfer is in the account: TransferID names
// it, Loadable is what the account holds for loading afterwards (the kiosk
// claims it at once with LoadInit).
type TransferResponse struct {
	TransferID string `cbor:"1,keyasint" json:"transfer_id"`
	Amount     int64  `cbor:"2,keyasint" json:"amount"`
	Loadable   int64  `cbor:"3,keyasint" json:"loadable"`
	BankRef    string `cbor:"4,keyasint,omitempty" json:"bank_ref,omitempty"`
}

// ContentType returns TypeTransferResponse.
func (*TransferResponse) ContentType() string { return TypeTransferResponse }

// Validate checks the fields.
func (m *TransferResponse) Validate() error {
	if !validName(m.TransferID, MaxKeyIDLen) || m.Amount <= 0 || m.Loadable < 0 || (m.BankRef != "" && !validName(m.BankRef, MaxKeyIDLen)) {
		return Errorf(CodeMalformed, "transfer response: invalid id, amount or bank reference")
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *TransferResponse) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("transfer response", m, MaxTransferSize)
}

func (m *TransferResponse) decode(b []byte) error {
	*m = TransferResponse{}
	if err := decodeStrict("transfer response", b, m, smallDec, MaxTransferSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *TransferResponse) deviceID() string { return "" }

// DecodeTransferResponse decodes a TransferResponse strictly.
func DecodeTransferResponse(b []byte) (TransferResponse, error) {
	var m TransferResponse
	err := m.decode(b)
	return m, err
}
