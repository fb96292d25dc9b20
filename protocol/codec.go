package protocol

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Messages are encoded with the same canonical mode as records (RFC 8949
// core deterministic). Decoders share these rules: no duplicate map keys,
// no indefinite lengths, no tags, valid UTF-8, no unknown fields, no
// trailing bytes, and per-message bounds on size, nesting, array and map
// lengths. They do not insist on the canonical encoding (a ledger written
// in another language need not reproduce it byte for byte): the signature
// covers the bytes as sent. Journal records inside a Batch are the
// exception: they must be canonical, because their hashes chain.
var (
	smallDec  cbor.DecMode // every message but Batch, status lists and Rules
	batchDec  cbor.DecMode
	listDec   cbor.DecMode // StatusSnapshot, StatusDelta
	rulesDec  cbor.DecMode
	headerDec cbor.DecMode // COSE structure and protected header
)

func init() {
	mk := func(nest, arr, pairs int) cbor.DecMode {
		dm, err := cbor.DecOptions{
			DupMapKey:         cbor.DupMapKeyEnforcedAPF,
			IndefLength:       cbor.IndefLengthForbidden,
			TagsMd:            cbor.TagsForbidden,
			MaxNestedLevels:   nest,
			MaxArrayElements:  arr,
			MaxMapPairs:       pairs,
			ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
			UTF8:              cbor.UTF8RejectInvalid,
			FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return dm
	}
	smallDec = mk(6, 64, 32)
	batchDec = mk(4, MaxBatchRecords, 16)
	listDec = mk(5, MaxStatusEntries, 16)
	rulesDec = mk(8, MaxRulesItems, MaxRulesItems)
	headerDec = mk(4, 16, 16)
}

// encode marshals v canonically and checks the encoded size.
func encode(what string, v any, max int) ([]byte, error) {
	b, err := recordEnc.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode %s: %w", what, err)
	}
	if len(b) > max {
		return nil, Errorf(CodeTooLarge, "encode %s: %d bytes, at most %d", what, len(b), max)
	}
	return b, nil
}

// decodeStrict decodes hostile bytes into v under dm, refusing more than max
// bytes (CodeTooLarge) and anything dm refuses (CodeMalformed).
func decodeStrict(what string, b []byte, v any, dm cbor.DecMode, max int) error {
	if len(b) > max {
		return Errorf(CodeTooLarge, "%s: %d bytes, at most %d", what, len(b), max)
	}
	if len(b) == 0 {
		return Errorf(CodeMalformed, "%s: empty", what)
	}
	if err := dm.Unmarshal(b, v); err != nil {
		var tooMany *cbor.MaxArrayElementsError
		var tooManyPairs *cbor.MaxMapPairsError
		if errors.As(err, &tooMany) || errors.As(err, &tooManyPairs) {
			return Errorf(CodeTooLarge, "%s: %w", what, err)
		}
		return Errorf(CodeMalformed, "%s: %w", what, err)
	}
	return nil
}

// Field bounds shared by the messages.
const (
	MaxDeviceIDLen = 64  // bytes
	MaxCardNoLen   = 32  // bytes, as in Record
	MaxKeyIDLen    = 64  // bytes
	MaxKeyLen      = 256 // bytes of a raw public key
	maxTextLen     = 128 // other short strings (firmware, load ids, tokens)
)

// ValidDeviceID reports whether id can name a device: 1 to 64 bytes of
// ASCII letters, digits and . _ : -.
func ValidDeviceID(id string) bool { return validName(id, MaxDeviceIDLen) }

func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// validCardNo: 1..32 printable ASCII bytes without spaces.
func validCardNo(s string) bool {
	if len(s) == 0 || len(s) > MaxCardNoLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func checkDevice(what, id string) error {
	if !ValidDeviceID(id) {
		return Errorf(CodeMalformed, "%s: invalid device id %q", what, truncateUTF8(id, MaxDeviceIDLen))
	}
	return nil
}

func checkLen(what, field string, b []byte, n int) error {
	if len(b) != n {
		return Errorf(CodeMalformed, "%s: %s is %d bytes, want %d", what, field, len(b), n)
	}
	return nil
}
