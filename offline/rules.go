package offline

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// ErrRulesStale: rules whose version is not newer than the one held were
// offered. Match it with errors.Is; nothing was applied.
var ErrRulesStale = errors.New("rules version is not newer than the one held")

// Limits of the rules kept in the store.
const (
	// MaxRulesSize bounds the canonical CBOR of one Rules: the bound of
	// the signed Rules message (protocol.MaxRulesSize, 4 MiB).
	MaxRulesSize = 4 << 20
	// MaxSignedRulesSize bounds the signed message kept beside the rules.
	MaxSignedRulesSize = MaxRulesSize + 4<<10
)

// keyRulesCurrent is the one key of the rules bucket: the rules in force.
var keyRulesCurrent = []byte("current")

// rulesFormat is the first byte of a stored rules value.
const rulesFormat = 1

var (
	rulesEnc cbor.EncMode
	// rulesDec has the bounds of the signed Rules message.
	rulesDec = protocol.MustStrictDecMode(protocol.DecLimits{
		Nesting: 8, ArrayElements: protocol.MaxRulesItems, MapPairs: protocol.MaxRulesItems,
	})
)

func init() {
	var err error
	rulesEnc, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
}

// RulesDigest is the digest of a Rules as the store journals it: SHA-256
// over its canonical CBOR (RFC 8949 core deterministic, integer keys), which
// the ledger can compute from the same version.
func RulesDigest(r protocol.Rules) ([sha256.Size]byte, error) {
	b, err := encodeRules(r)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

func encodeRules(r protocol.Rules) ([]byte, error) {
	b, err := rulesEnc.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("offline: encode rules: %w: %w", ErrInvalid, err)
	}
	if len(b) > MaxRulesSize {
		return nil, fmt.Errorf("offline: encode rules: %d bytes: %w", len(b), ErrInvalid)
	}
	return b, nil
}

// PutRules stores rules as the rules in force, with signedRaw, the signed
// message they came in (kept so that they can be shown and verified again),
// and journals a config-applied record (reason "rules", the version and the
// digest of RulesDigest) in the same commit. The caller has verified the
// signature. version must be rules.Version; a version not newer than the one
// held is refused with ErrRulesStale and nothing changes.
func (s *Store) PutRules(version uint64, signedRaw []byte, rules protocol.Rules) error {
	switch {
	case version == 0 || rules.Version != version:
		return fmt.Errorf("offline: put rules: version %d, rules say %d: %w", version, rules.Version, ErrInvalid)
	case len(signedRaw) == 0 || len(signedRaw) > MaxSignedRulesSize:
		return fmt.Errorf("offline: put rules: signed message of %d bytes: %w", len(signedRaw), ErrInvalid)
	}
	cb, err := encodeRules(rules)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(cb)
	val := encodeRulesValue(version, digest, signedRaw, cb)
	return s.update("put rules", func(tx *bolt.Tx) error {
		held, _, err := readRulesVersion(tx)
		if err != nil {
			return err
		}
		if version <= held {
			return fmt.Errorf("offline: put rules %d, have %d: %w", version, held, ErrRulesStale)
		}
		if err := tx.Bucket(bucketRules).Put(keyRulesCurrent, val); err != nil {
			return fmt.Errorf("offline: put rules: %w", err)
		}
		_, err = s.appendTx(tx, protocol.Record{
			Kind: protocol.KindConfigApplied, Reason: "rules", Version: version, Digest: digest[:],
		}, classEvidence)
		return err
	})
}

// Rules returns the rules in force and their version; with none held yet,
// the zero Rules and version 0.
func (s *Store) Rules() (protocol.Rules, uint64, error) {
	var (
		r   protocol.Rules
		ver uint64
	)
	err := s.viewRules(func(rv *rulesValue) { r, ver = rv.rules, rv.version })
	return r, ver, err
}

// RulesSigned returns the signed message the rules in force came in and
// their version (nil and 0 with none held).
func (s *Store) RulesSigned() ([]byte, uint64, error) {
	var (
		raw []byte
		ver uint64
	)
	err := s.viewRules(func(rv *rulesValue) { raw, ver = bytes.Clone(rv.signed), rv.version })
	return raw, ver, err
}

// viewRules calls fn, in a read transaction, with the decoded rules in
// force; with none held it does not call fn. rv aliases the transaction's
// memory: fn copies what outlives it.
func (s *Store) viewRules(fn func(rv *rulesValue)) error {
	return s.view("rules", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRules).Get(keyRulesCurrent)
		if v == nil {
			return nil
		}
		rv, err := decodeRulesValue(v)
		if err != nil {
			return err
		}
		fn(&rv)
		return nil
	})
}

// RulesVersion returns the version and digest of the rules in force without
// decoding them (0 and a zero digest with none held).
func (s *Store) RulesVersion() (uint64, [sha256.Size]byte, error) {
	var (
		ver uint64
		d   [sha256.Size]byte
	)
	err := s.view("rules version", func(tx *bolt.Tx) error {
		var err error
		ver, d, err = readRulesVersion(tx)
		return err
	})
	return ver, d, err
}

func readRulesVersion(tx *bolt.Tx) (uint64, [sha256.Size]byte, error) {
	v := tx.Bucket(bucketRules).Get(keyRulesCurrent)
	if v == nil {
		return 0, [sha256.Size]byte{}, nil
	}
	if len(v) < 1+8+sha256.Size || v[0] != rulesFormat {
		return 0, [sha256.Size]byte{}, fmt.Errorf("offline: rules value header: %w", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v[1:]), [sha256.Size]byte(v[9 : 9+sha256.Size]), nil
}

// rulesValue is a decoded value of the rules bucket.
type rulesValue struct {
	version uint64
	digest  [sha256.Size]byte
	signed  []byte // aliases the input
	cbor    []byte // aliases the input
	rules   protocol.Rules
}

// encodeRulesValue lays out a rules value:
//
//	format(1) = 1 ‖ be64 version ‖ digest(32) ‖ uvarint(len signed) ‖ signed ‖ rules CBOR
func encodeRulesValue(version uint64, digest [sha256.Size]byte, signed, rulesCBOR []byte) []byte {
	b := make([]byte, 0, 1+8+sha256.Size+binary.MaxVarintLen64+len(signed)+len(rulesCBOR))
	b = append(b, rulesFormat)
	b = binary.BigEndian.AppendUint64(b, version)
	b = append(b, digest[:]...)
	b = binary.AppendUvarint(b, uint64(len(signed)))
	b = append(b, signed...)
	return append(b, rulesCBOR...)
}

// decodeRulesValue decodes a stored rules value, checking everything that
// makes it one: format, lengths, the digest over the CBOR, canonical
// strict CBOR of a Rules and the version inside matching the one outside.
func decodeRulesValue(v []byte) (rulesValue, error) {
	var rv rulesValue
	bad := func(why string) (rulesValue, error) {
		return rulesValue{}, fmt.Errorf("offline: rules value: %s: %w", why, ErrCorrupt)
	}
	if len(v) < 1+8+sha256.Size+1 || v[0] != rulesFormat {
		return bad("header")
	}
	rv.version = binary.BigEndian.Uint64(v[1:])
	rv.digest = [sha256.Size]byte(v[9 : 9+sha256.Size])
	rest := v[9+sha256.Size:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n == 0 || n > MaxSignedRulesSize || uint64(len(rest)-k) < n {
		return bad("signed message length")
	}
	if k != len(binary.AppendUvarint(nil, n)) {
		return bad("non-minimal length")
	}
	rv.signed = rest[k : k+int(n)]
	rv.cbor = rest[k+int(n):]
	if len(rv.cbor) == 0 || len(rv.cbor) > MaxRulesSize {
		return bad("rules length")
	}
	if sha256.Sum256(rv.cbor) != rv.digest {
		return bad("digest")
	}
	r, err := decodeRulesCBOR(rv.cbor)
	if err != nil {
		return rulesValue{}, fmt.Errorf("offline: rules value: %w: %w", ErrCorrupt, err)
	}
	rv.rules = r
	if rv.version == 0 || rv.rules.Version != rv.version {
		return bad("version")
	}
	return rv, nil
}

// errNonCanonical: CBOR that decodes but is not the canonical encoding.
var errNonCanonical = errors.New("rules not canonically encoded")

// decodeRulesCBOR (its errors unprefixed: decodeRulesValue wraps them)
// decodes the canonical CBOR of a Rules: strict (no
// duplicate keys, indefinite lengths, tags, unknown fields or invalid
// UTF-8), bounded, and re-encoding to the same bytes.
func decodeRulesCBOR(b []byte) (protocol.Rules, error) {
	var r protocol.Rules
	if len(b) > MaxRulesSize {
		return r, fmt.Errorf("rules of %d bytes: %w", len(b), ErrInvalid)
	}
	if err := rulesDec.Unmarshal(b, &r); err != nil {
		return protocol.Rules{}, fmt.Errorf("decode rules: %w", err)
	}
	again, err := rulesEnc.Marshal(&r)
	if err != nil {
		return protocol.Rules{}, fmt.Errorf("decode rules: %w", err)
	}
	if !bytes.Equal(again, b) {
		return protocol.Rules{}, errNonCanonical
	}
	return r, nil
}
