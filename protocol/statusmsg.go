package protocol

import "strings"

// Bounds of the status-list messages.
const (
	// MaxStatusEntries bounds the entries of a snapshot or the changes of a
	// delta.
	MaxStatusEntries = 500_000
	// MaxStatusSize bounds an encoded StatusSnapshot or StatusDelta (16 MiB).
	MaxStatusSize = 16 << 20
	// MaxRequestSize bounds the small requests (status, rules, pending).
	MaxRequestSize = 256
)

// StatusRequest asks for the status list; Have is the version the device
// holds (0 = none). The ledger answers a StatusDelta from Have when it can,
// else a StatusSnapshot, both signed with the ledger key.
type StatusRequest struct {
	DeviceID string `cbor:"1,keyasint" json:"device_id"`
	Have     uint64 `cbor:"2,keyasint" json:"have"`
}

// ContentType returns TypeStatusRequest.
func (*StatusRequest) ContentType() string { return TypeStatusRequest }

// Validate checks the device id.
func (m *StatusRequest) Validate() error { return checkDevice("status request", m.DeviceID) }

// Encode validates m and returns its canonical encoding.
func (m *StatusRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("status request", m, MaxRequestSize)
}

func (m *StatusRequest) decode(b []byte) error {
	*m = StatusRequest{}
	if err := decodeStrict("status request", b, m, smallDec, MaxRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *StatusRequest) deviceID() string { return m.DeviceID }

// DecodeStatusRequest decodes a StatusRequest strictly.
func DecodeStatusRequest(b []byte) (StatusRequest, error) {
	var m StatusRequest
	err := m.decode(b)
	return m, err
}

// StatusItem is one card of a status list or one change of a delta. Reason
// is 1 lost, 2 frozen, 3 dormant, 4 cancelled, 5 expired; in a delta,
// Reason 0 removes the card from the list. Since is Unix seconds.
type StatusItem struct {
	Card   string `cbor:"1,keyasint" json:"card"`
	Reason uint8  `cbor:"2,keyasint" json:"reason"`
	Since  int64  `cbor:"3,keyasint" json:"since"`
}

// checkItems: valid card numbers in strictly ascending byte order (so each
// card at most once), and a reason (non-zero unless removal is allowed).
func checkItems(what string, items []StatusItem, removals bool) error {
	if len(items) > MaxStatusEntries {
		return Errorf(CodeTooLarge, "%s: %d entries, at most %d", what, len(items), MaxStatusEntries)
	}
	for i, e := range items {
		if !validCardNo(e.Card) {
			return Errorf(CodeMalformed, "%s: entry %d: invalid card number", what, i)
		}
		if e.Reason == 0 && !removals {
			return Errorf(CodeMalformed, "%s: entry %d: reason 0", what, i)
		}
		if i > 0 && strings.Compare(items[i-1].Card, e.Card) >= 0 {
			return Errorf(CodeMalformed, "%s: entry %d: cards not in strictly ascending order", what, i)
		}
	}
	return nil
}

// StatusSnapshot is a full status list at Version, its entries sorted by
// card number bytes, with Digest = StatusDigest of the entries. The
// protected header carries Version too.
type StatusSnapshot struct {
	Version uint64       `cbor:"1,keyasint" json:"version"`
	Entries []StatusItem `cbor:"2,keyasint" json:"entries"`
	Digest  []byte       `cbor:"3,keyasint" json:"digest"`
}

// ContentType returns TypeStatusSnapshot.
func (*StatusSnapshot) ContentType() string { return TypeStatusSnapshot }

// Validate checks the entries and that Digest is their StatusDigest.
func (m *StatusSnapshot) Validate() error {
	const w = "status snapshot"
	if m.Version == 0 {
		return Errorf(CodeMalformed, "%s: version 0", w)
	}
	if err := checkLen(w, "digest", m.Digest, HashSize); err != nil {
		return err
	}
	if err := checkItems(w, m.Entries, false); err != nil {
		return err
	}
	if d := StatusDigest(m.StatusEntries()); string(d[:]) != string(m.Digest) {
		return Errorf(CodeMalformed, "%s: digest does not match the entries", w)
	}
	return nil
}

// StatusEntries returns the entries in the form StatusDigest takes.
func (m *StatusSnapshot) StatusEntries() []StatusEntry {
	out := make([]StatusEntry, len(m.Entries))
	for i, e := range m.Entries {
		out[i] = StatusEntry{CardNo: e.Card, Reason: e.Reason, Since: e.Since}
	}
	return out
}

// Encode validates m and returns its canonical encoding.
func (m *StatusSnapshot) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("status snapshot", m, MaxStatusSize)
}

func (m *StatusSnapshot) decode(b []byte) error {
	*m = StatusSnapshot{}
	if err := decodeStrict("status snapshot", b, m, listDec, MaxStatusSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *StatusSnapshot) deviceID() string { return "" }
func (m *StatusSnapshot) version() uint64  { return m.Version }

// DecodeStatusSnapshot decodes a StatusSnapshot strictly and checks its
// digest.
func DecodeStatusSnapshot(b []byte) (StatusSnapshot, error) {
	var m StatusSnapshot
	err := m.decode(b)
	return m, err
}

// StatusDelta changes a status list from version From to version To:
// Changes (sorted by card number bytes) set a card's reason and since, or
// remove it (Reason 0). Digest is the StatusDigest of the whole list at To,
// which the receiver checks after applying the delta. The protected header
// carries To as the version.
type StatusDelta struct {
	From    uint64       `cbor:"1,keyasint" json:"from"`
	To      uint64       `cbor:"2,keyasint" json:"to"`
	Changes []StatusItem `cbor:"3,keyasint" json:"changes"`
	Digest  []byte       `cbor:"4,keyasint" json:"digest"`
}

// ContentType returns TypeStatusDelta.
func (*StatusDelta) ContentType() string { return TypeStatusDelta }

// Validate checks versions and changes.
func (m *StatusDelta) Validate() error {
	const w = "status delta"
	if m.From == 0 || m.To <= m.From {
		return Errorf(CodeMalformed, "%s: versions %d to %d", w, m.From, m.To)
	}
	if err := checkLen(w, "digest", m.Digest, HashSize); err != nil {
		return err
	}
	return checkItems(w, m.Changes, true)
}

// Encode validates m and returns its canonical encoding.
func (m *StatusDelta) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("status delta", m, MaxStatusSize)
}

func (m *StatusDelta) decode(b []byte) error {
	*m = StatusDelta{}
	if err := decodeStrict("status delta", b, m, listDec, MaxStatusSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *StatusDelta) deviceID() string { return "" }
func (m *StatusDelta) version() uint64  { return m.To }

// DecodeStatusDelta decodes a StatusDelta strictly.
func DecodeStatusDelta(b []byte) (StatusDelta, error) {
	var m StatusDelta
	err := m.decode(b)
	return m, err
}

// RulesRequest asks for the rules; Have is the version held (0 = none). The
// ledger answers HTTP 204 when Have is current, else the Rules signed.
type RulesRequest struct {
	DeviceID string `cbor:"1,keyasint" json:"device_id"`
	Have     uint64 `cbor:"2,keyasint" json:"have"`
}

// ContentType returns TypeRulesRequest.
func (*RulesRequest) ContentType() string { return TypeRulesRequest }

// Validate checks the device id.
func (m *RulesRequest) Validate() error { return checkDevice("rules request", m.DeviceID) }

// Encode validates m and returns its canonical encoding.
func (m *RulesRequest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("rules request", m, MaxRequestSize)
}

func (m *RulesRequest) decode(b []byte) error {
	*m = RulesRequest{}
	if err := decodeStrict("rules request", b, m, smallDec, MaxRequestSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *RulesRequest) deviceID() string { return m.DeviceID }

// DecodeRulesRequest decodes a RulesRequest strictly.
func DecodeRulesRequest(b []byte) (RulesRequest, error) {
	var m RulesRequest
	err := m.decode(b)
	return m, err
}
