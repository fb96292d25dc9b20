package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestPSAMBindingWire: the fields of issue 16 round-trip; messages
// without them encode exactly as before (old messages decode, new ones
// without a binding are byte-identical to old ones); a hold code this
// version does not know is kept.
func TestPSAMBindingWire(t *testing.T) {
	tid := []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06}
	req := EnrolRequest{DeviceID: testDevice, Token: "tok-123", PublicKey: bytes.Repeat([]byte{1}, 32), Alg: AlgEd25519, Kind: DevicePOS, TerminalID: tid}
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEnrolRequest(b)
	if err != nil || !bytes.Equal(got.TerminalID, tid) {
		t.Fatalf("enrol request: %+v, %v", got, err)
	}
	// Key 7, a 6-byte string: a7 ... 07 46 010203040506.
	if !bytes.Contains(b, []byte{0x07, 0x46, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("terminal id not at key 7: %x", b)
	}
	// An empty terminal id on the wire (key 7, bstr of 0) is refused, not
	// taken for "none".
	empty := append([]byte{0xa6}, b[1:]...)
	empty = append(empty[:len(empty)-8], 0x07, 0x40)
	if _, err := DecodeEnrolRequest(empty); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty terminal id: %v", err)
	}
	req.TerminalID = nil
	old, _ := req.Encode()
	if bytes.Contains(old, []byte{0x07, 0x46}) || old[0] != 0xa5 {
		t.Fatalf("without a terminal id the request changed: %x", old)
	}

	ack := Ack{DeviceID: testDevice, BatchNo: 7, AckedThrough: 3, Head: bytes.Repeat([]byte{0xab}, HashSize), ServerTime: 1_725_177_601_000}
	plain, _ := ack.Encode()
	// The golden ack of docs/protocol.md §6 is unchanged.
	want := "a5016f706f732d63616e7465656e312d303702070303045820" + hex.EncodeToString(bytes.Repeat([]byte{0xab}, 32)) + "051b00000191ac991be8"
	if hex.EncodeToString(plain) != want {
		t.Fatalf("ack without a hold: %x, want %s", plain, want)
	}
	ack.Held = CodePSAMBinding
	hb, err := ack.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(hb, []byte{0x07, 0x18, 30}) {
		t.Fatalf("held ack: %x", hb)
	}
	a, err := DecodeAck(hb)
	if err != nil || a.Held != CodePSAMBinding {
		t.Fatalf("held ack decodes as %+v, %v", a, err)
	}
	ack.Held = 999 // a newer ledger's reason
	nb, _ := ack.Encode()
	if a, err := DecodeAck(nb); err != nil || a.Held != 999 {
		t.Fatalf("unknown hold code: %+v, %v", a, err)
	}

	resp := EnrolResponse{DeviceID: testDevice, LedgerKeyID: "ledger-2026", LedgerKey: bytes.Repeat([]byte{2}, 32), LedgerAlg: AlgEd25519, ServerTime: 1, Held: CodePSAMBinding}
	rb, err := resp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := DecodeEnrolResponse(rb); err != nil || r.Held != CodePSAMBinding {
		t.Fatalf("enrol response: %+v, %v", r, err)
	}

	if CodePSAMBinding.String() != "psam-binding" || !errors.Is(Errorf(CodePSAMBinding, "x"), ErrPSAMBinding) || CodePSAMBinding.HTTPStatus() != 403 {
		t.Fatal("psam-binding code")
	}
	for k, name := range map[Kind]string{KindPSAMHeld: "psam-held", KindPSAMReleased: "psam-released"} {
		if !k.Valid() || k.String() != name {
			t.Errorf("kind %d: %q", k, k.String())
		}
	}
}

// TestPSAMRecords: the psam-held and psam-released records carry the
// PSAM's terminal id and encode canonically.
func TestPSAMRecords(t *testing.T) {
	g := GenesisHash(testDevice)
	for _, r := range []Record{
		{Seq: 1, Time: 1, Kind: KindPSAMHeld, Prev: g[:], Reason: "psam-swapped", TerminalID: []byte{9, 9, 9, 9, 9, 9}},
		{Seq: 1, Time: 1, Kind: KindPSAMReleased, Prev: g[:], Reason: "ledger"},
	} {
		b, err := EncodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecodeRecord(b); err != nil || got.Kind != r.Kind || !bytes.Equal(got.TerminalID, r.TerminalID) {
			t.Fatalf("%v: %+v, %v", r.Kind, got, err)
		}
	}
}
