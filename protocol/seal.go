package protocol

import (
	"bytes"
	"fmt"
)

// decodable is what Open needs of a message type: a pointer to a message of
// this package that decodes itself strictly.
type decodable[T any] interface {
	*T
	Message
	decode([]byte) error
	deviceID() string
}

// versioned messages carry their version in the protected header too.
type versioned interface{ version() uint64 }

// Seal encodes m and signs it with s for the device deviceID (the AAD): a
// device seals its requests and batches under its own id, the ledger its
// answers under the id of the device they go to. The content type comes
// from m, and a versioned message (StatusSnapshot, StatusDelta, Rules) puts
// its version in the protected header. A message that names a device must
// name deviceID.
func Seal(s *Signer, m Message, deviceID string) ([]byte, error) {
	if err := checkDevice("seal", deviceID); err != nil {
		return nil, err
	}
	if d, ok := m.(interface{ deviceID() string }); ok && d.deviceID() != "" && d.deviceID() != deviceID {
		return nil, fmt.Errorf("protocol: seal %s: message of device %q sealed for %q", m.ContentType(), d.deviceID(), deviceID)
	}
	b, err := m.Encode()
	if err != nil {
		return nil, err
	}
	var v uint64
	if vm, ok := m.(versioned); ok {
		v = vm.version()
	}
	return Sign(s, m.ContentType(), b, []byte(deviceID), v)
}

// Open verifies a message sealed for the device deviceID (AAD) by a key of
// keys and decodes it strictly as a T: a terminal opens the ledger's
// answers with Open[Ack], Open[Rules], ... and the ledger keys. Besides
// Verify's refusals it refuses a payload that does not decode as T
// [malformed], that names another device [malformed], and a version header
// that is missing from a versioned message, differs from the payload's, or
// is present on another [malformed].
func Open[T any, PT decodable[T]](keys KeySet, msg []byte, deviceID string) (T, Header, error) {
	var zero T
	ct := PT(nil).ContentType()
	p, err := parseSign1(msg, maxMessage([]string{ct}))
	if err != nil {
		return zero, Header{}, err
	}
	if err := verifyParsed(keys, msg, []byte(deviceID), p, []string{ct}); err != nil {
		return zero, Header{}, err
	}
	var m T
	if err := decodePayload(PT(&m), p, deviceID); err != nil {
		return zero, Header{}, err
	}
	return m, p.Header, nil
}

// OpenFromDevice is the ledger's Open: the kid names the device, which is
// also the AAD, and the payload must name the same device. It returns the
// message and the device id.
func OpenFromDevice[T any, PT decodable[T]](keys KeySet, msg []byte) (T, string, error) {
	var zero T
	ct := PT(nil).ContentType()
	p, err := parseSign1(msg, maxMessage([]string{ct}))
	if err != nil {
		return zero, "", err
	}
	dev := p.KeyID
	if err := checkDevice("cose kid", dev); err != nil {
		return zero, "", err
	}
	if err := verifyParsed(keys, msg, []byte(dev), p, []string{ct}); err != nil {
		return zero, "", err
	}
	var m T
	pm := PT(&m)
	if err := decodePayload(pm, p, dev); err != nil {
		return zero, "", err
	}
	if pm.deviceID() != dev {
		return zero, "", Errorf(CodeMalformed, "%s: message names device %q, signed by %q", ct, pm.deviceID(), dev)
	}
	return m, dev, nil
}

func decodePayload(m interface {
	decode([]byte) error
	deviceID() string
	ContentType() string
}, p parsed, deviceID string) error {
	if err := m.decode(p.payload); err != nil {
		return err
	}
	if d := m.deviceID(); d != "" && d != deviceID {
		return Errorf(CodeMalformed, "%s: message names device %q, sealed for %q", m.ContentType(), d, deviceID)
	}
	var v uint64
	if vm, ok := m.(versioned); ok {
		v = vm.version()
	}
	if p.Version != v {
		return Errorf(CodeMalformed, "%s: header version %d, payload version %d", m.ContentType(), p.Version, v)
	}
	return nil
}

// OpenStatus opens the ledger's answer to a StatusRequest: exactly one of
// snap and delta is set, as the content type says.
func OpenStatus(keys KeySet, msg []byte, deviceID string) (snap *StatusSnapshot, delta *StatusDelta, h Header, err error) {
	types := []string{TypeStatusSnapshot, TypeStatusDelta}
	p, err := parseSign1(msg, maxMessage(types))
	if err != nil {
		return nil, nil, Header{}, err
	}
	if err := verifyParsed(keys, msg, []byte(deviceID), p, types); err != nil {
		return nil, nil, Header{}, err
	}
	if p.ContentType == TypeStatusSnapshot {
		snap = new(StatusSnapshot)
		err = decodePayload(snap, p, deviceID)
	} else {
		delta = new(StatusDelta)
		err = decodePayload(delta, p, deviceID)
	}
	if err != nil {
		return nil, nil, Header{}, err
	}
	return snap, delta, p.Header, nil
}

// OpenEnrolRequest is the ledger's check of an enrolment: the request must
// be signed by the key it carries (proof of possession), under kid =
// DeviceID with AAD = DeviceID. The token is the ledger's to check.
func OpenEnrolRequest(msg []byte) (EnrolRequest, error) {
	p, err := parseSign1(msg, maxMessage([]string{TypeEnrolRequest}))
	if err != nil {
		return EnrolRequest{}, err
	}
	var req EnrolRequest
	if p.ContentType != TypeEnrolRequest {
		return EnrolRequest{}, Errorf(CodeMalformed, "cose: content type %q, want %q", p.ContentType, TypeEnrolRequest)
	}
	if err := req.decode(p.payload); err != nil {
		return EnrolRequest{}, err
	}
	if p.KeyID != req.DeviceID {
		return EnrolRequest{}, Errorf(CodeMalformed, "enrol request: kid %q for device %q", p.KeyID, req.DeviceID)
	}
	keys := NewKeys(PublicKey{KeyID: req.DeviceID, Alg: req.Alg, Key: req.PublicKey})
	if err := verifyParsed(keys, msg, []byte(req.DeviceID), p, []string{TypeEnrolRequest}); err != nil {
		return EnrolRequest{}, err
	}
	if p.Version != 0 {
		return EnrolRequest{}, Errorf(CodeMalformed, "enrol request: version header")
	}
	return req, nil
}

// OpenEnrolResponse is the device's check of the enrolment answer: it must
// be signed by the ledger key it announces, sealed for deviceID. With
// pinned keys (the ledger key provisioned in the device's configuration)
// the announced key must be one of them; with nil, the device trusts the
// key on first use, which proves only that the answer is consistent.
func OpenEnrolResponse(pinned KeySet, msg []byte, deviceID string) (EnrolResponse, error) {
	keys := pinned
	if keys == nil {
		p, err := parseSign1(msg, maxMessage([]string{TypeEnrolResponse}))
		if err != nil {
			return EnrolResponse{}, err
		}
		var resp EnrolResponse
		if err := resp.decode(p.payload); err != nil {
			return EnrolResponse{}, err
		}
		keys = NewKeys(PublicKey{KeyID: resp.LedgerKeyID, Alg: resp.LedgerAlg, Key: resp.LedgerKey})
	}
	resp, h, err := Open[EnrolResponse](keys, msg, deviceID)
	if err != nil {
		return EnrolResponse{}, err
	}
	pk, err := keys.PublicKey(h.KeyID)
	if err != nil {
		return EnrolResponse{}, err
	}
	if h.KeyID != resp.LedgerKeyID || pk.Alg != resp.LedgerAlg || !bytes.Equal(pk.Key, resp.LedgerKey) {
		return EnrolResponse{}, Errorf(CodeBadSignature, "enrol response: signed by %q, announces %q", h.KeyID, resp.LedgerKeyID)
	}
	return resp, nil
}

// CheckVersion is the receiver's rule for downstream data: a version older
// than the one held is refused with an error matching ErrStale; the same
// version (nothing new) and newer ones pass.
func CheckVersion(held, got uint64) error {
	if got < held {
		return Errorf(CodeStaleVersion, "version %d is older than the %d held", got, held)
	}
	return nil
}
