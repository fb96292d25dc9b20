package protocol

// TypeLoadStatusRequest is the content type of a LoadStatusRequest.
const TypeLoadStatusRequest = "yktd/load-status-request"

// PathLoadStatus is where a device asks what became of a load it
// authorised (LoadStatusRequest → LoadConfirmResponse).
const PathLoadStatus = "/v1/loads/status"

// PathLoadProbe is where a device reports the online counter of a card
// whose Claims said Unsettled (LoadInit → Claims): the card's INITIALIZE
// FOR LOAD answer for a probe amount, its MAC1 proving the counter; the
// ledger settles the card's unsettled loads from it, gives no MAC2, and
// answers the card's claims afterwards. The device sends no CREDIT FOR
// LOAD.
const PathLoadProbe = "/v1/loads/probe"

func init() { maxSizes[TypeLoadStatusRequest] = MaxRequestSize }

// LoadStatusRequest asks the ledger what became of a load this device
// authorised and could not settle from the card: torn after CREDIT FOR
// LOAD, the card did not come back here. The card may have been seen
// since at another kiosk or POS, whose load at a later online counter
// proves the credit (the ledger infers it done), or at the same counter
// proves there was none (voided). The answer is a LoadConfirmResponse:
// LoadCompleted, LoadCancelled (voided: the money is back in the
// account) or LoadInitiated (still unknown: ask again later).
type LoadStatusRequest struct {
	DeviceID string `cbor:"1,keyasint" json:"device_id"`
	LoadID   string `cbor:"2,keyasint" json:"load_id"`
	CardNo   string `cbor:"3,keyasint" json:"card_no"`
}

// ContentType returns TypeLoadStatusRequest.
func (*LoadStatusRequest) ContentType() string { return TypeLoadStatusRequest }

// Validate checks the fields' formats.
func (m *LoadStatusRequest) Validate() error {
	const w = "load status request"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	switch {
	case !validName(m.LoadID, MaxKeyIDLen):
		return Errorf(CodeMalformed, "%s: invalid load id", w)
	case !validCardNo(m.CardNo):
		return Errorf(CodeMalformed, "%s: invalid card number", w)
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *LoadStatusRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("load status request", m, MaxRequestSize)
}

func (m *LoadStatusRequest) decode(b []byte) error {
	*m = LoadStatusRequest{}
	if err := decodeStrict("load status request", b, m, smallDec, MaxRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *LoadStatusRequest) deviceID() string { return m.DeviceID }

// DecodeLoadStatusRequest decodes a LoadStatusRequest strictly.
func DecodeLoadStatusRequest(b []byte) (LoadStatusRequest, error) {
	var m LoadStatusRequest
	err := m.decode(b)
	return m, err
}
