package offline

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/openykt/yktd/protocol"
)

func sampleRulesValue(t testing.TB) []byte {
	r := protocol.Rules{Version: 7, Issued: 1, Prices: map[string]int64{"a": 1}, Holidays: []protocol.Holiday{{Date: "2024-10-01", Name: "国庆"}}}
	cb, err := encodeRules(r)
	if err != nil {
		t.Fatal(err)
	}
	return encodeRulesValue(7, sha256.Sum256(cb), []byte("cose"), cb)
}

func TestDecodeRulesValue(t *testing.T) {
	good := sampleRulesValue(t)
	if rv, err := decodeRulesValue(good); err != nil || rv.version != 7 || rv.rules.Holidays[0].Name != "国庆" || string(rv.signed) != "cose" {
		t.Fatalf("decode = %+v, %v", rv, err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := map[string][]byte{
		"empty":       nil,
		"format":      mod(func(b []byte) []byte { b[0] = 2; return b }),
		"version":     mod(func(b []byte) []byte { b[8] = 8; return b }),
		"digest":      mod(func(b []byte) []byte { b[9] ^= 1; return b }),
		"truncated":   good[:len(good)-1],
		"signed long": mod(func(b []byte) []byte { b[41] = 0x7f; return b }),
		"trailing":    append(bytes.Clone(good), 0),
	}
	for name, v := range tests {
		if _, err := decodeRulesValue(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzRulesValue decodes hostile rules values and rules CBOR: whatever is
// accepted re-encodes to the same bytes.
func FuzzRulesValue(f *testing.F) {
	good := sampleRulesValue(f)
	f.Add(good)
	rv, err := decodeRulesValue(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(rv.cbor))
	f.Fuzz(func(t *testing.T, b []byte) {
		if rv, err := decodeRulesValue(b); err == nil {
			if enc := encodeRulesValue(rv.version, rv.digest, rv.signed, rv.cbor); !bytes.Equal(enc, b) {
				t.Fatalf("accepted value %x re-encodes to %x", b, enc)
			}
		}
		if r, err := decodeRulesCBOR(b); err == nil {
			enc, err := encodeRules(r)
			if err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("accepted rules %x re-encode to %x, %v", b, enc, err)
			}
		}
	})
}

// FuzzNonceEntry decodes hostile nonce values (and the latest time seen,
// the same layout) and expiry-index keys.
func FuzzNonceEntry(f *testing.F) {
	f.Add(be64(1725177660000), encodeExpiryKey(1725177660000, []byte("nonce-aaaa")))
	f.Fuzz(func(t *testing.T, v, k []byte) {
		if exp, err := decodeNonceValue(v); err == nil {
			if exp < 0 || !bytes.Equal(be64(uint64(exp)), v) {
				t.Fatalf("accepted value %x as %d", v, exp)
			}
		}
		if t0, err := decodeLatest(v); err == nil {
			if t0 < 0 || !bytes.Equal(be64(uint64(t0)), v) {
				t.Fatalf("accepted latest time %x as %d", v, t0)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("latest time: %v", err)
		}
		if exp, nonce, err := decodeExpiryKey(k); err == nil {
			if exp < 0 || len(nonce) < MinNonceSize || !bytes.Equal(encodeExpiryKey(exp, nonce), k) {
				t.Fatalf("accepted key %x as %d %x", k, exp, nonce)
			}
		}
	})
}
