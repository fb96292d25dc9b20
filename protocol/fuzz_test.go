package protocol

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzDecode is the property every message decoder keeps: no panic, and
// whatever decodes re-encodes to bytes that decode to the same encoding.
func fuzzDecode[T any, PT decodable[T]](f *testing.F) {
	for _, m := range testMessages(f) {
		if _, ok := m.(PT); ok {
			b, err := m.Encode()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m T
		if err := PT(&m).decode(b); err != nil {
			if CodeOf(err) != CodeMalformed && CodeOf(err) != CodeTooLarge && CodeOf(err) != CodeChainBroken {
				t.Fatalf("decode error of code %v: %v", CodeOf(err), err)
			}
			return
		}
		enc, err := PT(&m).Encode()
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		var again T
		if err := PT(&again).decode(enc); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		enc2, _ := PT(&again).Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding not stable")
		}
	})
}

func FuzzDecodeEnrolRequest(f *testing.F)        { fuzzDecode[EnrolRequest](f) }
func FuzzDecodeEnrolResponse(f *testing.F)       { fuzzDecode[EnrolResponse](f) }
func FuzzDecodeBatch(f *testing.F)               { fuzzDecode[Batch](f) }
func FuzzDecodeAck(f *testing.F)                 { fuzzDecode[Ack](f) }
func FuzzDecodeStatusRequest(f *testing.F)       { fuzzDecode[StatusRequest](f) }
func FuzzDecodeStatusSnapshot(f *testing.F)      { fuzzDecode[StatusSnapshot](f) }
func FuzzDecodeStatusDelta(f *testing.F)         { fuzzDecode[StatusDelta](f) }
func FuzzDecodeRulesRequest(f *testing.F)        { fuzzDecode[RulesRequest](f) }
func FuzzDecodeRules(f *testing.F)               { fuzzDecode[Rules](f) }
func FuzzDecodePendingRequest(f *testing.F)      { fuzzDecode[PendingRequest](f) }
func FuzzDecodePending(f *testing.F)             { fuzzDecode[Pending](f) }
func FuzzDecodeLoadInit(f *testing.F)            { fuzzDecode[LoadInit](f) }
func FuzzDecodeClaimRequest(f *testing.F)        { fuzzDecode[ClaimRequest](f) }
func FuzzDecodeLoadStatusRequest(f *testing.F)   { fuzzDecode[LoadStatusRequest](f) }
func FuzzDecodeClaims(f *testing.F)              { fuzzDecode[Claims](f) }
func FuzzDecodeTransferRequest(f *testing.F)     { fuzzDecode[TransferRequest](f) }
func FuzzDecodeTransferResponse(f *testing.F)    { fuzzDecode[TransferResponse](f) }
func FuzzDecodeLoadInitResponse(f *testing.F)    { fuzzDecode[LoadInitResponse](f) }
func FuzzDecodeLoadConfirm(f *testing.F)         { fuzzDecode[LoadConfirm](f) }
func FuzzDecodeLoadConfirmResponse(f *testing.F) { fuzzDecode[LoadConfirmResponse](f) }

func FuzzDecodeQRClaims(f *testing.F) {
	c := testClaims()
	b, _ := c.Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeQRClaims(b)
		if err != nil {
			return
		}
		if _, err := c.Encode(); err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	b, _ := EncodeError(&Error{Code: CodeGap, Message: "expected 4", Expected: 4})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeError(b)
		if err != nil {
			return
		}
		if e.Code == 0 || e.Error() == "" {
			t.Fatalf("decoded a useless error: %+v", e)
		}
	})
}

// fuzzSigned returns the signed seeds: a batch from the device, an ack,
// a snapshot and a delta from the ledger, an enrolment request.
func fuzzSigned(f *testing.F) (dev, ledger *Signer, msgs [][]byte) {
	dev = testSigner(f, testDevice, 1)
	ledger = testSigner(f, ledgerKID, 2)
	b := testBatch(f, 2)
	snap := testSnapshot()
	for _, m := range []struct {
		s   *Signer
		msg Message
	}{
		{dev, &b},
		{ledger, testAck()},
		{ledger, &snap},
		{ledger, &StatusDelta{From: 1, To: 2, Changes: []StatusItem{{Card: "x"}}, Digest: make([]byte, 32)}},
		{dev, &EnrolRequest{DeviceID: testDevice, Token: "t", PublicKey: dev.PublicKey().Key, Alg: AlgEd25519, Kind: DevicePOS}},
	} {
		raw, err := Seal(m.s, m.msg, testDevice)
		if err != nil {
			f.Fatal(err)
		}
		msgs = append(msgs, raw)
	}
	return dev, ledger, msgs
}

// FuzzVerify feeds COSE bytes to every opening path: Verify, Open,
// OpenFromDevice, OpenStatus, OpenEnrolRequest and PeekHeader.
func FuzzVerify(f *testing.F) {
	dev, ledger, msgs := fuzzSigned(f)
	for _, m := range msgs {
		f.Add(m)
	}
	devKeys := NewKeys(dev.PublicKey())
	ledgerKeys := NewKeys(ledger.PublicKey())
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, p, err := Verify(ledgerKeys, b, []byte(testDevice), TypeAck, TypeStatusSnapshot); err == nil && (h.KeyID != ledgerKID || p == nil) {
			t.Fatalf("verified with header %+v", h)
		}
		if _, _, err := Open[Ack](ledgerKeys, b, testDevice); err == nil {
			if _, err := PeekHeader(b); err != nil {
				t.Fatalf("opened but does not peek: %v", err)
			}
		}
		if batch, devID, err := OpenFromDevice[Batch](devKeys, b); err == nil && (devID != testDevice || batch.DeviceID != testDevice) {
			t.Fatalf("opened a batch of %q/%q", devID, batch.DeviceID)
		}
		_, _, _, _ = OpenStatus(ledgerKeys, b, testDevice)
		if req, err := OpenEnrolRequest(b); err == nil && !ValidDeviceID(req.DeviceID) {
			t.Fatalf("enrolment of %q", req.DeviceID)
		}
	})
}

func FuzzBase45Decode(f *testing.F) {
	f.Add("%69 VD92EX0")
	f.Add("GGW")
	f.Add("BB8")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Base45Decode(s)
		if err != nil {
			return
		}
		if Base45Encode(b) != s {
			t.Fatalf("decode then encode of %q gives %q", s, Base45Encode(b))
		}
	})
}

func FuzzVerifyQRToken(f *testing.F) {
	issuer := testSigner(f, "campus-qr-1", 3)
	pk := issuer.PublicKey()
	keys := []IssuerKey{{KeyID: pk.KeyID, Alg: pk.Alg, Key: pk.Key}}
	text, err := SignQRToken(issuer, testClaims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(text)
	f.Add(text[:len(text)-2])
	f.Fuzz(func(t *testing.T, s string) {
		c, err := VerifyQRToken(s, keys, time.Unix(1_790_000_000, 0))
		if err == nil && c.Validate() != nil {
			t.Fatalf("verified invalid claims %+v", c)
		}
	})
}

func FuzzDecodeKeyPEM(f *testing.F) {
	s := testSigner(f, testDevice, 1)
	priv, _ := EncodePrivateKeyPEM(AlgEd25519, bytes.Repeat([]byte{1}, 32))
	pub, _ := EncodePublicKeyPEM(s.PublicKey())
	f.Add(priv)
	f.Add(pub)
	f.Fuzz(func(t *testing.T, b []byte) {
		if alg, k, err := DecodePrivateKeyPEM(b); err == nil {
			if _, err := NewSigner("k", alg, k); err != nil {
				t.Fatalf("decoded a private key that does not sign: %v", err)
			}
		}
		if pk, err := DecodePublicKeyPEM(b); err == nil {
			if _, err := EncodePublicKeyPEM(pk); err != nil {
				t.Fatalf("decoded a public key that does not encode: %v", err)
			}
		}
	})
}

// fuzzTargets lists the fuzz targets of this package whose corpus seeds
// TestFuzzSeeds writes with -update.
var fuzzTargets = []string{
	"FuzzDecodeEnrolRequest", "FuzzDecodeEnrolResponse", "FuzzDecodeBatch", "FuzzDecodeAck",
	"FuzzDecodeStatusRequest", "FuzzDecodeStatusSnapshot", "FuzzDecodeStatusDelta",
	"FuzzDecodeRulesRequest", "FuzzDecodeRules", "FuzzDecodePendingRequest", "FuzzDecodePending",
	"FuzzDecodeLoadInit", "FuzzDecodeLoadInitResponse", "FuzzDecodeLoadConfirm", "FuzzDecodeLoadConfirmResponse",
	"FuzzDecodeLoadStatusRequest", "FuzzDecodeQRClaims", "FuzzDecodeError", "FuzzVerify", "FuzzBase45Decode", "FuzzVerifyQRToken", "FuzzDecodeKeyPEM",
}

// TestFuzzSeeds checks that every fuzz target has seed files under
// testdata/fuzz; with -update it (re)writes them from valid values.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeFuzzSeeds(t)
	}
	for _, name := range fuzzTargets {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if err != nil || len(files) == 0 {
			t.Errorf("%s: no seed files (run go test -run TestFuzzSeeds -update)", name)
		}
	}
}

func writeFuzzSeeds(t *testing.T) {
	write := func(target, name, typ string, v []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n%s(%q)\n", typ, v)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]string{
		TypeEnrolRequest: "FuzzDecodeEnrolRequest", TypeEnrolResponse: "FuzzDecodeEnrolResponse",
		TypeBatch: "FuzzDecodeBatch", TypeAck: "FuzzDecodeAck", TypeStatusRequest: "FuzzDecodeStatusRequest",
		TypeStatusSnapshot: "FuzzDecodeStatusSnapshot", TypeStatusDelta: "FuzzDecodeStatusDelta",
		TypeRulesRequest: "FuzzDecodeRulesRequest", TypeRules: "FuzzDecodeRules",
		TypePendingRequest: "FuzzDecodePendingRequest", TypePending: "FuzzDecodePending",
		TypeLoadInit: "FuzzDecodeLoadInit", TypeLoadInitResponse: "FuzzDecodeLoadInitResponse",
		TypeLoadConfirm: "FuzzDecodeLoadConfirm", TypeLoadConfirmResponse: "FuzzDecodeLoadConfirmResponse",
		TypeLoadStatusRequest: "FuzzDecodeLoadStatusRequest",
		TypeClaimRequest:      "FuzzDecodeClaimRequest", TypeClaims: "FuzzDecodeClaims",
		TypeTransferRequest: "FuzzDecodeTransferRequest", TypeTransferResponse: "FuzzDecodeTransferResponse",
	}
	for _, m := range testMessages(t) {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		write(names[m.ContentType()], "valid", "[]byte", b)
	}
	c := testClaims()
	write("FuzzDecodeQRClaims", "valid", "[]byte", must(c.Encode()))
	write("FuzzDecodeError", "gap", "[]byte", must(EncodeError(&Error{Code: CodeGap, Expected: 4})))
	dev := testSigner(t, testDevice, 1)
	ledger := testSigner(t, ledgerKID, 2)
	b := testBatch(t, 2)
	write("FuzzVerify", "batch", "[]byte", must(Seal(dev, &b, testDevice)))
	write("FuzzVerify", "ack", "[]byte", must(Seal(ledger, testAck(), testDevice)))
	write("FuzzBase45Decode", "rfc9285", "string", []byte("%69 VD92EX0"))
	issuer := testSigner(t, "campus-qr-1", 3)
	text, err := SignQRToken(issuer, testClaims())
	if err != nil {
		t.Fatal(err)
	}
	write("FuzzVerifyQRToken", "valid", "string", []byte(text))
	write("FuzzDecodeKeyPEM", "private", "[]byte", must(EncodePrivateKeyPEM(AlgEd25519, bytes.Repeat([]byte{1}, 32))))
	write("FuzzDecodeKeyPEM", "public", "[]byte", must(EncodePublicKeyPEM(dev.PublicKey())))
	// The PSAM binding's fields (issue 16).
	write("FuzzDecodeEnrolRequest", "terminal-id", "[]byte", must((&EnrolRequest{DeviceID: testDevice, Token: "tok-123",
		PublicKey: bytes.Repeat([]byte{1}, 32), Alg: AlgEd25519, Kind: DevicePOS, TerminalID: []byte{0, 0, 0, 0, 0, 1}}).Encode()))
	write("FuzzDecodeEnrolRequest", "site", "[]byte", must((&EnrolRequest{DeviceID: testDevice, Token: "tok-123",
		PublicKey: bytes.Repeat([]byte{1}, 32), Alg: AlgEd25519, Kind: DevicePOS, Site: "CANTEEN-2"}).Encode()))
	write("FuzzDecodeEnrolResponse", "held", "[]byte", must((&EnrolResponse{DeviceID: testDevice, LedgerKeyID: "ledger-2026",
		LedgerKey: bytes.Repeat([]byte{2}, 32), LedgerAlg: AlgEd25519, ServerTime: 1_725_177_600_000, Held: CodePSAMBinding}).Encode()))
	held := *testAck()
	held.Held = CodePSAMBinding
	write("FuzzDecodeAck", "held", "[]byte", must(held.Encode()))
	write("FuzzVerify", "ack-held", "[]byte", must(Seal(ledger, &held, testDevice)))
}
