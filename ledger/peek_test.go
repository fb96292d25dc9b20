package ledger

import (
	"testing"

	"github.com/openykt/yktd/protocol"
)

// FuzzPeekKid: the kid peek of a body's start never panics, asks only for
// more than it has and at most peekSize bytes, returns only valid device
// ids, and agrees with protocol's strict parser on every message that
// parser takes.
func FuzzPeekKid(f *testing.F) {
	priv := make([]byte, 32)
	s, err := protocol.NewSigner("pos-canteen1-07", protocol.AlgEd25519, priv)
	if err != nil {
		f.Fatal(err)
	}
	msg, err := protocol.Sign(s, protocol.TypeBatch, []byte{0xa0}, []byte("pos-canteen1-07"), 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(msg[:20])
	f.Add([]byte{0xd2, 0x84, 0x59, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		kid, need, err := peekKid(b)
		switch {
		case err != nil:
			if need != 0 || kid != "" {
				t.Fatalf("error %v with need %d kid %q", err, need, kid)
			}
		case need > 0:
			if need <= len(b) || need > peekSize {
				t.Fatalf("needs %d bytes of %d (at most %d)", need, len(b), peekSize)
			}
		case !protocol.ValidDeviceID(kid):
			t.Fatalf("kid %q is no device id", kid)
		}
		if h, perr := protocol.PeekHeader(b); perr == nil && (err != nil || need != 0 || kid != h.KeyID) {
			t.Fatalf("protocol parses kid %q, peek says %q need %d err %v", h.KeyID, kid, need, err)
		}
	})
}

// TestPeekKid: the start of a real message gives its kid once the
// protected header is complete, and asks for more before.
func TestPeekKid(t *testing.T) {
	s, err := protocol.NewSigner("gate-3", protocol.AlgEd25519, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := protocol.Sign(s, protocol.TypeBatch, make([]byte, 2000), []byte("gate-3"), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		kid, need, err := peekKid(msg[:n])
		if err != nil {
			t.Fatalf("at %d bytes: %v", n, err)
		}
		if need == 0 {
			if kid != "gate-3" || n > 64 {
				t.Fatalf("kid %q after %d bytes", kid, n)
			}
			break
		}
		n = need
	}
	for _, bad := range [][]byte{[]byte("hello"), {0xd2, 0x84, 0xa0}, {0xd2, 0x84, 0x5a, 0, 0, 0, 1}} {
		if _, _, err := peekKid(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}
