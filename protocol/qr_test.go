package protocol

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func testClaims() QRClaims {
	return QRClaims{Subject: "2024000123", IssuedAt: 1_790_000_000, Expires: 1_790_000_060,
		Nonce: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, Class: 1}
}

// TestBase45RFC9285 uses the examples of RFC 9285 section 4.
func TestBase45RFC9285(t *testing.T) {
	vectors := []struct{ in, out string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	}
	for _, v := range vectors {
		if got := Base45Encode([]byte(v.in)); got != v.out {
			t.Errorf("encode %q = %q, want %q", v.in, got, v.out)
		}
		got, err := Base45Decode(v.out)
		if err != nil || string(got) != v.in {
			t.Errorf("decode %q = %q, %v, want %q", v.out, got, err, v.in)
		}
	}
	for _, bad := range []string{"GGW", "A", "ABCD", "bb8", "BB_", ":::", "::"} {
		if _, err := Base45Decode(bad); !errors.Is(err, ErrBase45) {
			t.Errorf("decode %q: err = %v, want ErrBase45", bad, err)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for n := 0; n <= len(all); n += 51 {
		got, err := Base45Decode(Base45Encode(all[:n]))
		if err != nil || !bytes.Equal(got, all[:n]) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
	}
}

func TestQRToken(t *testing.T) {
	issuer := testSigner(t, "campus-qr-1", 3)
	pk := issuer.PublicKey()
	keys := []IssuerKey{{KeyID: "campus-qr-0", Alg: AlgEd25519, Key: testSigner(t, "campus-qr-0", 7).PublicKey().Key},
		{KeyID: pk.KeyID, Alg: pk.Alg, Key: pk.Key, NotAfter: 1_800_000_000}}
	now := time.Unix(1_790_000_010, 0)
	text, err := SignQRToken(issuer, testClaims())
	if err != nil {
		t.Fatal(err)
	}
	if len(text) > 256 {
		t.Errorf("token of %d characters: too long for a small QR code", len(text))
	}
	got, err := VerifyQRToken(text, keys, now)
	if err != nil || got.Subject != "2024000123" || got.Class != 1 {
		t.Fatalf("verify: %v %+v", err, got)
	}
	raw, _ := Base45Decode(text)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding} {
		if _, err := VerifyQRToken(enc.EncodeToString(raw), keys, now); err != nil {
			t.Fatalf("base64url: %v", err)
		}
	}

	forged := bytes.Clone(raw)
	forged[len(forged)-3] ^= 0x10
	c := testClaims()
	c.Nonce = c.Nonce[:4]
	badClaims, _ := recordEnc.Marshal(&c)
	other := testSigner(t, "campus-qr-9", 3)
	otherText, _ := SignQRToken(other, testClaims())
	ledger := testSigner(t, "campus-qr-1", 3)
	ack := testAck()
	wrongType, _ := Seal(ledger, ack, testDevice)
	tests := []struct {
		name string
		text string
		now  time.Time
		want error
	}{
		{"forged", Base45Encode(forged), now, ErrBadSignature},
		{"unknown issuer", otherText, now, ErrUnknownKey},
		{"key expired", text, time.Unix(1_800_000_001, 0), ErrKeyExpired},
		{"key expired is revoked", text, time.Unix(1_800_000_001, 0), ErrRevoked},
		{"bad claims", Base45Encode(mustSign(t, issuer, TypeQRToken, badClaims, nil, 0)), now, ErrMalformed},
		{"not a token", "HELLO", now, ErrMalformed},
		{"lower case", "abc", now, ErrMalformed},
		{"another message type", Base45Encode(wrongType), now, ErrMalformed},
		{"with aad", Base45Encode(mustSign(t, issuer, TypeQRToken, must(testClaims().encodeForTest()), []byte(testDevice), 0)), now, ErrBadSignature},
		{"too long", string(make([]byte, MaxQRTextLen+1)), now, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyQRToken(tc.text, keys, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Without a time, NotAfter is not checked.
	if _, err := VerifyQRToken(text, keys, time.Time{}); err != nil {
		t.Fatalf("zero time: %v", err)
	}
}

func (c QRClaims) encodeForTest() ([]byte, error) { return c.Encode() }
