package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestKeyPEMRoundTrip(t *testing.T) {
	priv, err := GenerateKey(AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := EncodePrivateKeyPEM(AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	alg, got, err := DecodePrivateKeyPEM(p)
	if err != nil || alg != AlgEd25519 || !bytes.Equal(got, priv) {
		t.Fatalf("private key round trip: %v %d", err, alg)
	}
	s, _ := NewSigner(testDevice, alg, got)
	pub, err := EncodePublicKeyPEM(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pk, err := DecodePublicKeyPEM(pub)
	if err != nil || pk.KeyID != testDevice || !bytes.Equal(pk.Key, s.PublicKey().Key) {
		t.Fatalf("public key round trip: %v %+v", err, pk)
	}
}

// Keys that openssl writes (PKCS#8, PKIX) are read too.
func TestKeyPEMStandardForms(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, 32)
	k := ed25519.NewKeyFromSeed(seed)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	alg, got, err := DecodePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil || alg != AlgEd25519 || !bytes.Equal(got, seed) {
		t.Fatalf("pkcs8: %v", err)
	}
	der, _ = x509.MarshalPKIXPublicKey(k.Public())
	pk, err := DecodePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil || pk.Alg != AlgEd25519 || !bytes.Equal(pk.Key, k.Public().(ed25519.PublicKey)) {
		t.Fatalf("pkix: %v", err)
	}
}

func TestKeyPEMRefusals(t *testing.T) {
	good, _ := EncodePrivateKeyPEM(AlgEd25519, bytes.Repeat([]byte{1}, 32))
	short := pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Headers: map[string]string{"Alg": "-8"}, Bytes: make([]byte, 31)})
	noAlg := pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Bytes: make([]byte, 32)})
	otherAlg := pem.EncodeToMemory(&pem.Block{Type: PEMPrivateKey, Headers: map[string]string{"Alg": "-7"}, Bytes: make([]byte, 32)})
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrKeyFormat},
		{"short key", short, ErrKeyFormat},
		{"no alg", noAlg, ErrKeyFormat},
		{"unregistered alg", otherAlg, ErrUnsupportedAlg},
		{"trailing data", append(bytes.Clone(good), "x"...), ErrKeyFormat},
		{"public key block", must(EncodePublicKeyPEM(testSigner(t, "k", 1).PublicKey())), ErrKeyFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodePrivateKeyPEM(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewSigner("bad kid", AlgEd25519, make([]byte, 32)); err == nil {
		t.Fatal("signer with a space in its key id")
	}
}

func TestFingerprint(t *testing.T) {
	key := make([]byte, 32)
	fp := Fingerprint(key)
	// SHA-256 of 32 zero bytes.
	if fp != "sha256:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925" {
		t.Fatalf("fingerprint = %s", fp)
	}
	if !ValidFingerprint(fp) {
		t.Fatal("own fingerprint refused")
	}
	key[0] = 1
	if Fingerprint(key) == fp {
		t.Fatal("different keys, same fingerprint")
	}
	for _, bad := range []string{"", "sha256:", fp[:len(fp)-1], strings.ToUpper(fp), "md5:" + fp[7:], fp[:len(fp)-1] + "g", fp + "00"} {
		if ValidFingerprint(bad) {
			t.Errorf("ValidFingerprint(%q) = true", bad)
		}
	}
}
