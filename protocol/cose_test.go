package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// testSigner returns an Ed25519 signer whose seed is 32 bytes of seed.
func testSigner(t testing.TB, kid string, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner(kid, AlgEd25519, bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const ledgerKID = "ledger-2026"

func testAck() *Ack {
	return &Ack{DeviceID: testDevice, BatchNo: 7, AckedThrough: 3, Head: bytes.Repeat([]byte{0xab}, HashSize), ServerTime: 1_725_177_601_000}
}

// rawSign1 builds a COSE_Sign1 with go-cose directly, for messages Sign
// would not make.
func rawSign1(t *testing.T, s *Signer, h cose.Headers, payload, aad []byte) []byte {
	t.Helper()
	b, err := cose.Sign1(nil, coseSigner{s}, h, payload, aad)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stdHeader(s *Signer, ct string) cose.ProtectedHeader {
	return cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm:   cose.Algorithm(s.Alg()),
		cose.HeaderLabelContentType: ct,
		cose.HeaderLabelKeyID:       []byte(s.KeyID()),
	}
}

// TestOpenBatchRefusals: the ledger's side. Each refusal matches the
// sentinel of its code.
func TestOpenBatchRefusals(t *testing.T) {
	dev := testSigner(t, testDevice, 1)
	other := testSigner(t, "pos-other-01", 4)
	impostor := testSigner(t, testDevice, 5) // same kid, another key
	keys := NewKeys(dev.PublicKey(), other.PublicKey())
	b := testBatch(t, 3)
	payload, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	good, err := Seal(dev, &b, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	unknownField := func() []byte {
		m := map[int]any{1: b.DeviceID, 2: b.BatchNo, 3: b.FirstSeq, 4: b.LastSeq, 5: b.PrevHead, 6: b.NewHead, 7: b.Records, 8: "x"}
		p, _ := recordEnc.Marshal(m)
		return p
	}()
	dupKey := append([]byte{0xa8}, payload[1:]...) // 7 pairs announced as 8 ...
	dupKey = append(dupKey, 0x02, 0x07)            // ... the 8th repeats key 2
	altKeys := NewKeys(PublicKey{KeyID: testDevice, Alg: -7, Key: dev.PublicKey().Key}, other.PublicKey())

	ph := stdHeader(dev, TypeBatch)
	ph[int64(99)] = "x"
	unknownLabel := rawSign1(t, dev, cose.Headers{Protected: ph}, payload, []byte(testDevice))
	unprot := rawSign1(t, dev, cose.Headers{Protected: stdHeader(dev, TypeBatch),
		Unprotected: cose.UnprotectedHeader{cose.HeaderLabelKeyID: []byte("x")}}, payload, []byte(testDevice))
	versioned := mustSign(t, dev, TypeBatch, payload, []byte(testDevice), 5)
	big := append(bytes.Clone(good[:2]), make([]byte, MaxBatchSize+MaxEnvelopeOverhead)...)

	tests := []struct {
		name string
		keys KeySet
		msg  []byte
		want error
	}{
		{"forged signature", keys, flipped, ErrBadSignature},
		{"wrong key", keys, mustSeal(t, impostor, &b, testDevice), ErrBadSignature},
		{"unknown kid", NewKeys(other.PublicKey()), good, ErrUnknownKey},
		{"wrong alg for the key", altKeys, good, ErrUnsupportedAlg},
		{"wrong content type", keys, mustSign(t, dev, TypeAck, payload, []byte(testDevice), 0), ErrMalformed},
		{"AAD of another device", keys, mustSign(t, dev, TypeBatch, payload, []byte("pos-other-01"), 0), ErrBadSignature},
		{"truncated", keys, good[:len(good)-1], ErrMalformed},
		{"trailing bytes", keys, append(bytes.Clone(good), 0), ErrMalformed},
		{"oversized", keys, big, ErrTooLarge},
		{"untagged", keys, good[1:], ErrMalformed},
		{"unknown field", keys, mustSign(t, dev, TypeBatch, unknownField, []byte(testDevice), 0), ErrMalformed},
		{"duplicate key", keys, mustSign(t, dev, TypeBatch, dupKey, []byte(testDevice), 0), ErrMalformed},
		{"unknown header label", keys, unknownLabel, ErrMalformed},
		{"unprotected header", keys, unprot, ErrMalformed},
		{"version on an unversioned message", keys, versioned, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := OpenFromDevice[Batch](tc.keys, tc.msg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeOf(tc.want) {
				t.Fatalf("err = %#v: no *Error of code %v", err, CodeOf(tc.want))
			}
		})
	}

	got, devID, err := OpenFromDevice[Batch](keys, good)
	if err != nil || devID != testDevice || got.LastSeq != 3 {
		t.Fatalf("good batch: %v, %q, %+v", err, devID, got)
	}
}

func mustSeal(t *testing.T, s *Signer, m Message, dev string) []byte {
	t.Helper()
	b, err := Seal(s, m, dev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSign(t *testing.T, s *Signer, ct string, payload, aad []byte, v uint64) []byte {
	t.Helper()
	b, err := Sign(s, ct, payload, aad, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealRefusesOtherDevice(t *testing.T) {
	other := testSigner(t, "pos-other-01", 4)
	b := testBatch(t, 1)
	if _, err := Seal(other, &b, "pos-other-01"); err == nil {
		t.Fatal("sealed a batch of another device")
	}
}

// A batch payload naming device A but signed by device B's key (kid B,
// AAD B) is refused even though the signature verifies.
func TestOpenFromDeviceChecksPayloadDevice(t *testing.T) {
	other := testSigner(t, "pos-other-01", 4)
	b := testBatch(t, 2)
	payload, _ := b.Encode()
	msg := mustSign(t, other, TypeBatch, payload, []byte("pos-other-01"), 0)
	_, _, err := OpenFromDevice[Batch](NewKeys(other.PublicKey()), msg)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

// TestOpenAck: the device's side, with AAD = its own id.
func TestOpenAck(t *testing.T) {
	ledger := testSigner(t, ledgerKID, 2)
	keys := NewKeys(ledger.PublicKey())
	msg, err := Seal(ledger, testAck(), testDevice)
	if err != nil {
		t.Fatal(err)
	}
	a, h, err := Open[Ack](keys, msg, testDevice)
	if err != nil || a.AckedThrough != 3 || h.KeyID != ledgerKID || h.ContentType != TypeAck {
		t.Fatalf("open: %v %+v %+v", err, a, h)
	}
	if _, _, err := Open[Ack](keys, msg, "pos-other-01"); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other device: err = %v, want ErrBadSignature", err)
	}
	if _, _, err := Open[Batch](keys, msg, testDevice); !errors.Is(err, ErrMalformed) {
		t.Fatalf("as batch: err = %v, want ErrMalformed", err)
	}
}

func TestOpenVersioned(t *testing.T) {
	ledger := testSigner(t, ledgerKID, 2)
	keys := NewKeys(ledger.PublicKey())
	snap := testSnapshot()
	msg, err := Seal(ledger, &snap, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	s, d, h, err := OpenStatus(keys, msg, testDevice)
	if err != nil || s == nil || d != nil || h.Version != snap.Version {
		t.Fatalf("open status: %v %v %v %+v", err, s, d, h)
	}
	payload, _ := snap.Encode()
	for _, v := range []uint64{0, snap.Version + 1} {
		bad := mustSign(t, ledger, TypeStatusSnapshot, payload, []byte(testDevice), v)
		if _, _, _, err := OpenStatus(keys, bad, testDevice); !errors.Is(err, ErrMalformed) {
			t.Errorf("header version %d: err = %v, want ErrMalformed", v, err)
		}
	}
	delta := &StatusDelta{From: 12, To: 13, Changes: []StatusItem{{Card: "2024000001"}}, Digest: make([]byte, 32)}
	msg, _ = Seal(ledger, delta, testDevice)
	if s, d, h, err := OpenStatus(keys, msg, testDevice); err != nil || s != nil || d == nil || h.Version != 13 {
		t.Fatalf("open delta: %v %v %v %+v", err, s, d, h)
	}
	r := Rules{Version: 9}
	msg, _ = Seal(ledger, &r, testDevice)
	if got, h, err := Open[Rules](keys, msg, testDevice); err != nil || got.Version != 9 || h.Version != 9 {
		t.Fatalf("open rules: %v %+v %+v", err, got, h)
	}
}

func TestEnrol(t *testing.T) {
	dev := testSigner(t, testDevice, 1)
	req := &EnrolRequest{DeviceID: testDevice, Token: "tok-123", PublicKey: dev.PublicKey().Key, Alg: AlgEd25519, Kind: DeviceGate}
	msg, err := Seal(dev, req, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenEnrolRequest(msg)
	if err != nil || got.Token != "tok-123" {
		t.Fatalf("open enrol request: %v %+v", err, got)
	}
	// Signed by another key than the one carried: no proof of possession.
	impostor := testSigner(t, testDevice, 5)
	msg, _ = Seal(impostor, req, testDevice)
	if _, err := OpenEnrolRequest(msg); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("impostor: err = %v, want ErrBadSignature", err)
	}
	req2 := *req
	req2.Alg = -65600
	msg, _ = Sign(dev, TypeEnrolRequest, must(req2.Encode()), []byte(testDevice), 0)
	if _, err := OpenEnrolRequest(msg); !errors.Is(err, ErrUnsupportedAlg) {
		t.Fatalf("unregistered alg: err = %v, want ErrUnsupportedAlg", err)
	}

	ledger := testSigner(t, ledgerKID, 2)
	pk := ledger.PublicKey()
	resp := &EnrolResponse{DeviceID: testDevice, LedgerKeyID: pk.KeyID, LedgerKey: pk.Key, LedgerAlg: pk.Alg, ServerTime: 1_725_177_600_000}
	msg, _ = Seal(ledger, resp, testDevice)
	if _, err := OpenEnrolResponse(nil, msg, testDevice); err != nil {
		t.Fatalf("tofu: %v", err)
	}
	if _, err := OpenEnrolResponse(NewKeys(pk), msg, testDevice); err != nil {
		t.Fatalf("pinned: %v", err)
	}
	rogue := testSigner(t, ledgerKID, 6)
	rp := rogue.PublicKey()
	resp2 := *resp
	resp2.LedgerKey = rp.Key
	msg, _ = Seal(rogue, &resp2, testDevice)
	if _, err := OpenEnrolResponse(NewKeys(pk), msg, testDevice); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("rogue ledger with pinned key: err = %v, want ErrBadSignature", err)
	}
	// Signed by the pinned key but announcing another key.
	msg, _ = Seal(ledger, &resp2, testDevice)
	if _, err := OpenEnrolResponse(NewKeys(pk), msg, testDevice); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("announces another key: err = %v, want ErrBadSignature", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// testSuite is a registered suite of another number with Ed25519 inside,
// to show that a suite plugs in and that algorithms are not confused.
type testSuite struct{ ed25519Suite }

func (testSuite) Alg() int64   { return -65601 }
func (testSuite) Name() string { return "test-suite" }

func TestRegisteredSuite(t *testing.T) {
	if err := RegisterSuite(testSuite{}); err != nil {
		t.Fatal(err)
	}
	if err := RegisterSuite(testSuite{}); err == nil {
		t.Fatal("registered the same algorithm twice")
	}
	s, err := NewSigner(testDevice, -65601, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Seal(s, testAck(), testDevice)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open[Ack](NewKeys(s.PublicKey()), msg, testDevice); err != nil {
		t.Fatalf("open with the plugged suite: %v", err)
	}
	// The same key bytes registered as Ed25519 do not verify a -65601 message.
	ed := testSigner(t, testDevice, 1).PublicKey()
	if _, _, err := Open[Ack](NewKeys(ed), msg, testDevice); !errors.Is(err, ErrUnsupportedAlg) {
		t.Fatalf("alg mismatch: err = %v, want ErrUnsupportedAlg", err)
	}
}

func TestErrorCodes(t *testing.T) {
	for c := CodeMalformed; c <= codeMax; c++ {
		e := &Error{Code: c, Message: "m", Expected: 5}
		if !errors.Is(e, sentinel(c)) || errors.Is(e, sentinel(c%codeMax+1)) {
			t.Errorf("%v: errors.Is does not match its own sentinel only", c)
		}
		b, err := EncodeError(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeError(b)
		if err != nil || got.Code != c || got.Message != "m" || got.Expected != 5 {
			t.Fatalf("%v: round trip %v %+v", c, err, got)
		}
	}
	names := map[Code]string{CodeMalformed: "malformed", CodeGap: "gap", CodeFork: "fork", CodeRateLimited: "rate-limited", 99: "code(99)"}
	for c, n := range names {
		if c.String() != n {
			t.Errorf("Code(%d).String() = %q, want %q", c, c.String(), n)
		}
	}
	gap := Errorf(CodeGap, "batch starts at %d", 9)
	gap.Expected = 4
	if !errors.Is(gap, ErrGap) || gap.Error() != "protocol: gap: batch starts at 9 (expected 4)" {
		t.Fatalf("gap error: %v", gap)
	}
	wrapped := Errorf(CodeMalformed, "batch: %w", ErrInvalidRecord)
	if !errors.Is(wrapped, ErrInvalidRecord) || !errors.Is(wrapped, ErrMalformed) {
		t.Fatal("Errorf lost its cause")
	}
	if CodeOf(errors.New("x")) != CodeInternal || CodeOf(nil) != 0 {
		t.Fatal("CodeOf")
	}
	// A wire Error with a field this version does not know is refused.
	b, _ := cbor.Marshal(map[int]any{1: 6, 3: 4, 4: "x"})
	if _, err := DecodeError(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown field: %v", err)
	}
}
