package keys_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/openykt/yktd/ledger/keys"
)

// FuzzParseHolderKey: a holder key file never panics the parser, and what
// parses is exactly HolderKeySize bytes whose hex is in the input.
func FuzzParseHolderKey(f *testing.F) {
	f.Add([]byte(hex.EncodeToString(bytes.Repeat([]byte{7}, keys.HolderKeySize)) + "\n"))
	f.Add([]byte(""))
	f.Add([]byte("zz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := keys.ParseHolderKey(b)
		if err != nil {
			return
		}
		if len(k) != keys.HolderKeySize || !bytes.Contains(bytes.ToLower(b), []byte(hex.EncodeToString(k))) {
			t.Fatalf("parsed %X from %q", k, b)
		}
	})
}
