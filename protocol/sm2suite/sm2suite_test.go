package sm2suite_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/sm2suite"
)

const device = "pos-canteen1-07"

func ack() *protocol.Ack {
	return &protocol.Ack{DeviceID: device, BatchNo: 1, AckedThrough: 3, Head: make([]byte, 32), ServerTime: 1_725_177_601_000}
}

// The suite plugs in without changing callers: Seal and Open work with an
// SM2 ledger key exactly as with Ed25519.
func TestSealOpenSM2(t *testing.T) {
	priv, err := protocol.GenerateKey(sm2suite.Alg, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.NewSigner("ledger-sm2", sm2suite.Alg, priv)
	if err != nil {
		t.Fatal(err)
	}
	pk := s.PublicKey()
	if len(pk.Key) != sm2suite.PublicKeySize || pk.Key[0] != 4 {
		t.Fatalf("public key %x", pk.Key)
	}
	msg, err := protocol.Seal(s, ack(), device)
	if err != nil {
		t.Fatal(err)
	}
	keys := protocol.NewKeys(pk)
	if _, h, err := protocol.Open[protocol.Ack](keys, msg, device); err != nil || h.Alg != sm2suite.Alg {
		t.Fatalf("open: %v %+v", err, h)
	}
	if _, _, err := protocol.Open[protocol.Ack](keys, msg, "pos-canteen1-08"); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("other device: err = %v, want ErrBadSignature", err)
	}
	other, _ := protocol.GenerateKey(sm2suite.Alg, rand.Reader)
	s2, _ := protocol.NewSigner("ledger-sm2", sm2suite.Alg, other)
	msg2, _ := protocol.Seal(s2, ack(), device)
	if _, _, err := protocol.Open[protocol.Ack](keys, msg2, device); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("other key: err = %v, want ErrBadSignature", err)
	}
	// An Ed25519 message under the same kid is refused: not the key's algorithm.
	ed, _ := protocol.NewSigner("ledger-sm2", protocol.AlgEd25519, bytes.Repeat([]byte{1}, 32))
	msg3, _ := protocol.Seal(ed, ack(), device)
	if _, _, err := protocol.Open[protocol.Ack](keys, msg3, device); !errors.Is(err, protocol.ErrUnsupportedAlg) {
		t.Fatalf("ed25519 message: err = %v, want ErrUnsupportedAlg", err)
	}
	// Key files work for the suite too.
	p, err := protocol.EncodePrivateKeyPEM(sm2suite.Alg, priv)
	if err != nil {
		t.Fatal(err)
	}
	if alg, got, err := protocol.DecodePrivateKeyPEM(p); err != nil || alg != sm2suite.Alg || !bytes.Equal(got, priv) {
		t.Fatalf("pem: %v", err)
	}
}

func TestKeyRefusals(t *testing.T) {
	var s sm2suite.Suite
	for _, k := range [][]byte{make([]byte, 31), make([]byte, 32), bytes.Repeat([]byte{0xff}, 32)} {
		if _, err := s.NewSigner(k); err == nil {
			t.Errorf("private key %x accepted", k)
		}
	}
	bad := make([]byte, 65)
	bad[0] = 4
	if _, err := s.NewVerifier(bad); err == nil {
		t.Error("point not on the curve accepted")
	}
	priv, _ := s.GenerateKey(rand.Reader)
	sg, _ := s.NewSigner(priv)
	v, err := s.NewVerifier(sg.Public())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sg.Sign(rand.Reader, []byte("content"))
	if err != nil || len(sig) != sm2suite.SignatureSize {
		t.Fatalf("sign: %v, %d bytes", err, len(sig))
	}
	if err := v.Verify([]byte("content"), sig); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify([]byte("contenT"), sig); err == nil {
		t.Fatal("verified another content")
	}
	if err := v.Verify([]byte("content"), sig[:63]); err == nil {
		t.Fatal("verified a short signature")
	}
}
