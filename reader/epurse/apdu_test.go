package epurse

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
)

func TestBuilders(t *testing.T) {
	dt := DateTime{0x20, 0x11, 0x12, 0x21, 0x21, 0x48, 0x22}
	must := func(c reader.Command, err error) reader.Command {
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name string
		cmd  reader.Command
		want string
	}{
		{"select aid", SelectAID(AIDCityCard), "00A4040009A0000000038698070100"},
		{"select fid", SelectFID(FIDEPADF), "00A4000002100100"},
		{"read binary 15", ReadBinarySFI(SFIPublicData, 0, PublicDataLen), "00B0950028"},
		{"read record 18", ReadRecordSFI(SFILog, 1, RecordLen), "00B201C417"},
		{"get balance", GetBalanceCommand(), "805C000204"},
		{"verify", must(VerifyPINCommand("123456")), "0020000003123456"},
		{"verify odd", must(VerifyPINCommand("12345")), "00200000031234 5F"},
		{"change pin", must(ChangePINCommand("123456", "654321")), "805E010007123456FF654321"},
		{"init purchase", InitPurchaseCommand(1, 0x1000, testTermID), "805001020B01000010000011223344550F"},
		{"debit", DebitCommand(1, DateTime{0x20, 0x11, 0x12, 0x21, 0x21, 0x48, 0x22}, [4]byte{0x3A, 0x84, 0x5B, 0xF0}), "805401000F00000001201112212148223A845BF008"},
		{"init load", InitLoadCommand(1, 0x1000, testTermID), "805000020B010000100000112233445510"},
		{"credit", CreditCommand(dt, [4]byte{0x3A, 0x84, 0x5B, 0xF0}), "805200000B201112212148223A845BF004"},
		{"prove", ProveCommand(TxPurchase, 0x0001), "805A000602000108"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := strings.ToUpper(hex.EncodeToString(tt.cmd.Bytes())), strings.ReplaceAll(tt.want, " ", ""); got != want {
				t.Errorf("got %s\nwant %s", got, want)
			}
			if tt.cmd.Name == "" {
				t.Error("command has no name")
			}
		})
	}
}

func TestEncodePIN(t *testing.T) {
	for _, tt := range []struct {
		pin, want string
		ok        bool
	}{
		{"123456", "123456", true}, {"12", "12", true}, {"123", "123f", true},
		{"123456789012", "123456789012", true}, {"1", "", false}, {"1234567890123", "", false},
		{"12 4", "", false}, {"", "", false},
	} {
		got, err := EncodePIN(tt.pin)
		if (err == nil) != tt.ok || hex.EncodeToString(got) != tt.want {
			t.Errorf("EncodePIN(%q) = %x, %v", tt.pin, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Errorf("EncodePIN(%q) error %v is not ErrBadRequest", tt.pin, err)
		}
	}
}

// op runs one card operation of the package against a scripted answer.
type op struct {
	name string
	run  func(ctx context.Context, c reader.Card) error
	good string // a well-formed data field (hex)
}

var ops = []op{
	{"GetBalance", func(ctx context.Context, c reader.Card) error { _, err := GetBalance(ctx, c); return err }, "00001000"},
	{"ReadPublicData", func(ctx context.Context, c reader.Card) error { _, err := ReadPublicData(ctx, c); return err },
		hex.EncodeToString(newTestCard(AlgDES, 1, 0).pub.Bytes())},
	{"InitializeForPurchase", func(ctx context.Context, c reader.Card) error {
		_, err := InitializeForPurchase(ctx, c, 1, 100, testTermID)
		return err
	}, "000010000001000000010011223344"},
	{"DebitForPurchase", func(ctx context.Context, c reader.Card) error {
		_, _, err := DebitForPurchase(ctx, c, 1, testTime, [4]byte{})
		return err
	}, "1122334455667788"},
	{"InitializeForLoad", func(ctx context.Context, c reader.Card) error {
		_, err := InitializeForLoad(ctx, c, 1, 100, testTermID)
		return err
	}, "00001000000101001122334455667788"},
	{"CreditForLoad", func(ctx context.Context, c reader.Card) error {
		_, err := CreditForLoad(ctx, c, testTime, [4]byte{})
		return err
	}, "11223344"},
	{"GetTransactionProve", func(ctx context.Context, c reader.Card) error {
		_, _, err := GetTransactionProve(ctx, c, TxPurchase, 1)
		return err
	}, "5566778811223344"},
	{"ReadRecord", func(ctx context.Context, c reader.Card) error { _, err := ReadRecord(ctx, c, 1); return err },
		"0001000000000001f406001122334455202503141145" + "30"},
}

func TestOperationsMalformedAndStatus(t *testing.T) {
	ctx := context.Background()
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			if err := o.run(ctx, readertest.NewCard(readertest.Step{Resp: o.good + "9000"})); err != nil {
				t.Fatalf("good answer: %v", err)
			}
			for _, bad := range []string{o.good[:len(o.good)-2], o.good + "00", ""} {
				err := o.run(ctx, readertest.NewCard(readertest.Step{Resp: bad + "9000"}))
				if !errors.Is(err, reader.ErrMalformed) {
					t.Errorf("data %q: err %v, want ErrMalformed", bad, err)
				}
			}
			for _, tt := range []struct {
				sw string
				is error
			}{
				{"9401", ErrInsufficientBalance}, {"9303", ErrLocked}, {"6983", ErrLocked},
				{"9302", ErrMACInvalid}, {"9406", ErrNoProof}, {"6A82", nil},
			} {
				err := o.run(ctx, readertest.NewCard(readertest.Step{Resp: tt.sw}))
				var se *reader.StatusError
				if !errors.As(err, &se) || strings.ToUpper(hex.EncodeToString([]byte{se.SW.SW1(), se.SW.SW2()})) != tt.sw {
					t.Errorf("SW %s: err %v, want *reader.StatusError", tt.sw, err)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("SW %s: err %v, want %v", tt.sw, err, tt.is)
				}
			}
			if err := o.run(ctx, readertest.NewCard(readertest.Step{Err: reader.ErrCardRemoved})); !errors.Is(err, reader.ErrCardRemoved) {
				t.Errorf("removed: %v", err)
			}
		})
	}
}

func TestPINErrorMapping(t *testing.T) {
	ctx := context.Background()
	var pe *PINError
	err := ChangePIN(ctx, readertest.NewCard(readertest.Step{Cmd: "805E010007123456FF654321", Resp: "63C1"}), "123456", "654321")
	if !errors.As(err, &pe) || pe.Retries != 1 {
		t.Fatalf("change pin 63C1: %v", err)
	}
	var se *reader.StatusError
	if !errors.As(err, &se) || se.SW != 0x63C1 {
		t.Fatalf("status error lost: %v", err)
	}
	if err := ChangePIN(ctx, readertest.NewCard(), "1", "123456"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad old pin: %v", err)
	}
	if err := ChangePIN(ctx, readertest.NewCard(readertest.Step{Resp: "9000"}), "123456", "654321"); err != nil {
		t.Fatal(err)
	}
}

func TestParsers(t *testing.T) {
	in, err := ParsePurchaseInit(readertest.Hex("00001000 0007 000100 01 04 A1B2C3D4"))
	if err != nil || in != (PurchaseInit{Balance: 0x1000, OfflineCounter: 7, OverdraftLimit: 0x100, KeyVersion: 1, Algorithm: AlgSM4, Random: [4]byte{0xA1, 0xB2, 0xC3, 0xD4}}) {
		t.Errorf("ParsePurchaseInit = %+v, %v", in, err)
	}
	li, err := ParseLoadInit(readertest.Hex("00000000 0000 02 00 11223344 2988AE5A"))
	if err != nil || li != (LoadInit{KeyVersion: 2, Random: [4]byte{0x11, 0x22, 0x33, 0x44}, MAC1: [4]byte{0x29, 0x88, 0xAE, 0x5A}}) {
		t.Errorf("ParseLoadInit = %+v, %v", li, err)
	}
	mac, tac, err := ParseProve(readertest.Hex("AAAAAAAA BBBBBBBB"))
	if err != nil || mac != [4]byte{0xAA, 0xAA, 0xAA, 0xAA} || tac != [4]byte{0xBB, 0xBB, 0xBB, 0xBB} {
		t.Errorf("ParseProve: MAC must come first: %X %X %v", mac, tac, err)
	}
	tac, mac2, err := ParseDebit(readertest.Hex("AAAAAAAA BBBBBBBB"))
	if err != nil || tac != [4]byte{0xAA, 0xAA, 0xAA, 0xAA} || mac2 != [4]byte{0xBB, 0xBB, 0xBB, 0xBB} {
		t.Errorf("ParseDebit: TAC must come first: %X %X %v", tac, mac2, err)
	}
	r := Record{Counter: 1, Overdraft: 0x010203, Amount: 500, Type: TxPurchase, TermID: testTermID, Time: testTime}
	back, err := ParseRecord(r.Bytes())
	if err != nil || back != r || r.Empty() || !(Record{}).Empty() {
		t.Errorf("ParseRecord = %+v, %v", back, err)
	}
	pub := newTestCard(AlgDES, 1, 0).pub
	b := pub.Bytes()
	b[20] = 0xAB // start date not BCD
	if _, err := ParsePublicData(b); !errors.Is(err, reader.ErrMalformed) {
		t.Errorf("non-BCD date: %v", err)
	}
	if seq, mac1, err := ParseSAMPurchaseResponse(readertest.Hex("00000101 F15CAB75")); err != nil || seq != 0x101 || mac1 != [4]byte{0xF1, 0x5C, 0xAB, 0x75} {
		t.Errorf("ParseSAMPurchaseResponse = %d %X %v", seq, mac1, err)
	}
	if _, _, err := ParseSAMPurchaseResponse(make([]byte, 9)); !errors.Is(err, reader.ErrMalformed) {
		t.Errorf("long SAM response: %v", err)
	}
}

func TestReadLog(t *testing.T) {
	ctx := context.Background()
	rec := Record{Counter: 3, Amount: 100, Type: TxPurchase, TermID: testTermID, Time: testTime}
	card := readertest.NewCard(
		readertest.Step{Cmd: "00B201C417", Resp: hex.EncodeToString(rec.Bytes()) + "9000"},
		readertest.Step{Cmd: "00B202C417", Resp: hex.EncodeToString(make([]byte, RecordLen)) + "9000"},
		readertest.Step{Cmd: "00B203C417", Resp: "6A83"},
	)
	recs, err := ReadLog(ctx, card, 0)
	if err != nil || len(recs) != 1 || recs[0] != rec {
		t.Fatalf("ReadLog = %+v, %v", recs, err)
	}
	if err := card.Done(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLog(ctx, readertest.NewCard(readertest.Step{Resp: "6A82"}), 3); err == nil {
		t.Fatal("6A82 must be an error")
	}
}

func TestOutcomeKindString(t *testing.T) {
	for k, s := range map[OutcomeKind]string{Done: "done", Refused: "refused", Uncertain: "uncertain", Void: "void", 0: "outcome(0)"} {
		if k.String() != s {
			t.Errorf("%d: %q", int(k), k.String())
		}
	}
	if AlgDES.String() != "3des" || AlgSM4.String() != "sm4" || Algorithm(7).String() != "alg(07)" {
		t.Error("Algorithm.String")
	}
	if (&PINError{Retries: 2}).Error() != "epurse: wrong PIN, 2 tries left" {
		t.Error("PINError.Error")
	}
}
