package protocol

import "fmt"

// Content types of the signed messages: the COSE content-type header (label
// 3) names the message inside, and a verifier refuses a message of another
// type than the one it expects.
const (
	TypeEnrolRequest        = "yktd/enrol-request"
	TypeEnrolResponse       = "yktd/enrol-response"
	TypeBatch               = "yktd/batch"
	TypeAck                 = "yktd/ack"
	TypeStatusRequest       = "yktd/status-request"
	TypeStatusSnapshot      = "yktd/status-snapshot"
	TypeStatusDelta         = "yktd/status-delta"
	TypeRulesRequest        = "yktd/rules-request"
	TypeRules               = "yktd/rules"
	TypePendingRequest      = "yktd/pending-request"
	TypePending             = "yktd/pending"
	TypeLoadInit            = "yktd/load-init"
	TypeLoadInitResponse    = "yktd/load-init-response"
	TypeLoadConfirm         = "yktd/load-confirm"
	TypeLoadConfirmResponse = "yktd/load-confirm-response"
	TypeQRToken             = "yktd/qr"
)

// Message is a wire message that can be signed: it names its content type
// and encodes itself canonically, validating first.
type Message interface {
	ContentType() string
	Encode() ([]byte, error)
}

// DeviceKind says what a device is; the numbers are wire values.
type DeviceKind uint8

// Device kinds.
const (
	DevicePOS   DeviceKind = 1 // canteen POS, shower or hot-water meter
	DeviceGate  DeviceKind = 2 // turnstile, door
	DeviceKiosk DeviceKind = 3 // 圈存 kiosk
	DeviceDesk  DeviceKind = 4 // service desk (柜台): the kiosk's trades under an operator, and the desk's own
)

// String returns "pos", "gate", "kiosk", "desk" or "kind(N)".
func (k DeviceKind) String() string {
	switch k {
	case DevicePOS:
		return "pos"
	case DeviceGate:
		return "gate"
	case DeviceKiosk:
		return "kiosk"
	case DeviceDesk:
		return "desk"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MaxEnrolSize bounds an encoded EnrolRequest or EnrolResponse.
const MaxEnrolSize = 2048

// EnrolRequest asks the ledger to enrol a device: it is signed by the new
// device key itself (proof of possession; kid = DeviceID, AAD = DeviceID)
// and carries the one-time enrolment token an operator issued.
type EnrolRequest struct {
	DeviceID  string     `cbor:"1,keyasint" json:"device_id"`
	Token     string     `cbor:"2,keyasint" json:"token"`
	PublicKey []byte     `cbor:"3,keyasint" json:"public_key"` // raw public key of the device's suite
	Alg       int64      `cbor:"4,keyasint" json:"alg"`        // COSE algorithm of PublicKey (-8 Ed25519)
	Kind      DeviceKind `cbor:"5,keyasint" json:"kind"`
	Firmware  string     `cbor:"6,keyasint,omitempty" json:"firmware,omitempty"` // software version, for the registry
	// TerminalID is the terminal id (TerminalIDSize bytes, the PSAM's file
	// 0x16) of the PSAM the device holds at enrolment: the ledger binds it
	// to the device (docs/protocol.md §5.1). Absent for a device without a
	// PSAM (a gate), or when it could not be read.
	TerminalID []byte `cbor:"7,keyasint,omitempty" json:"terminal_id,omitempty"`
	// Site is where the device is installed (its configuration's
	// device.site, the same form as a device id): the ledger binds the
	// device to it, and a token that names a site enrols only a device
	// that says it is there (docs/protocol.md §5.1). Absent from a device
	// that predates the binding.
	Site string `cbor:"8,keyasint,omitempty" json:"site,omitempty"`
}

// ContentType returns TypeEnrolRequest.
func (*EnrolRequest) ContentType() string { return TypeEnrolRequest }

// Validate checks the fields' formats.
func (m *EnrolRequest) Validate() error {
	const w = "enrol request"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	switch {
	case m.Token == "" || len(m.Token) > maxTextLen:
		return Errorf(CodeMalformed, "%s: token of %d bytes", w, len(m.Token))
	case len(m.PublicKey) == 0 || len(m.PublicKey) > MaxKeyLen:
		return Errorf(CodeMalformed, "%s: public key of %d bytes", w, len(m.PublicKey))
	case m.Kind < DevicePOS || m.Kind > DeviceDesk:
		return Errorf(CodeMalformed, "%s: unknown device kind %d", w, m.Kind)
	case len(m.Firmware) > maxTextLen:
		return Errorf(CodeMalformed, "%s: firmware of %d bytes", w, len(m.Firmware))
	case m.TerminalID != nil && len(m.TerminalID) != TerminalIDSize:
		return Errorf(CodeMalformed, "%s: terminal id of %d bytes, want %d", w, len(m.TerminalID), TerminalIDSize)
	case m.Site != "" && !ValidDeviceID(m.Site):
		return Errorf(CodeMalformed, "%s: invalid site %q", w, truncateUTF8(m.Site, MaxDeviceIDLen))
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *EnrolRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("enrol request", m, MaxEnrolSize)
}

func (m *EnrolRequest) decode(b []byte) error {
	*m = EnrolRequest{}
	if err := decodeStrict("enrol request", b, m, smallDec, MaxEnrolSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *EnrolRequest) deviceID() string { return m.DeviceID }

// DecodeEnrolRequest decodes an EnrolRequest strictly.
func DecodeEnrolRequest(b []byte) (EnrolRequest, error) {
	var m EnrolRequest
	err := m.decode(b)
	return m, err
}

// EnrolResponse is the ledger's answer to an enrolment, signed by the ledger
// key it announces: the terminal keeps LedgerKeyID, LedgerKey and LedgerAlg
// to verify everything the ledger sends from then on.
type EnrolResponse struct {
	DeviceID    string `cbor:"1,keyasint" json:"device_id"`
	LedgerKeyID string `cbor:"2,keyasint" json:"ledger_kid"`
	LedgerKey   []byte `cbor:"3,keyasint" json:"ledger_key"`
	LedgerAlg   int64  `cbor:"4,keyasint" json:"ledger_alg"`
	ServerTime  int64  `cbor:"5,keyasint" json:"server_time"` // Unix milliseconds
	// Held is why the ledger holds the enrolled device (CodePSAMBinding:
	// the PSAM it enrolled with is bound to another device), 0 when it
	// does not: a held device takes no money until an operator re-binds
	// it. A code this version does not know is kept (still a hold).
	Held Code `cbor:"6,keyasint,omitempty" json:"held,omitempty"`
}

// ContentType returns TypeEnrolResponse.
func (*EnrolResponse) ContentType() string { return TypeEnrolResponse }

// Validate checks the fields' formats.
func (m *EnrolResponse) Validate() error {
	const w = "enrol response"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	switch {
	case !validName(m.LedgerKeyID, MaxKeyIDLen):
		return Errorf(CodeMalformed, "%s: invalid ledger key id", w)
	case len(m.LedgerKey) == 0 || len(m.LedgerKey) > MaxKeyLen:
		return Errorf(CodeMalformed, "%s: ledger key of %d bytes", w, len(m.LedgerKey))
	case m.ServerTime <= 0:
		return Errorf(CodeMalformed, "%s: server time %d", w, m.ServerTime)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *EnrolResponse) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("enrol response", m, MaxEnrolSize)
}

func (m *EnrolResponse) decode(b []byte) error {
	*m = EnrolResponse{}
	if err := decodeStrict("enrol response", b, m, smallDec, MaxEnrolSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *EnrolResponse) deviceID() string { return m.DeviceID }

// DecodeEnrolResponse decodes an EnrolResponse strictly.
func DecodeEnrolResponse(b []byte) (EnrolResponse, error) {
	var m EnrolResponse
	err := m.decode(b)
	return m, err
}
