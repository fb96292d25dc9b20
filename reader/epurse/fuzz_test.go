package epurse

import (
	"bytes"
	"testing"
)

// Fuzz targets of every parser of card answers. Seeds: f.Add below and
// testdata/fuzz/<Name>/. Each checks that a parser never panics, accepts
// only its exact length, and that what it accepts re-encodes to the input
// where an encoder exists.

func fuzzExact(f *testing.F, n int, parse func([]byte) error) {
	f.Add(make([]byte, n))
	f.Add(make([]byte, n-1))
	f.Add(bytes.Repeat([]byte{0xFF}, n+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := parse(b)
		if len(b) != n && err == nil {
			t.Fatalf("%d bytes accepted, want exactly %d", len(b), n)
		}
	})
}

func FuzzParseBalance(f *testing.F) {
	fuzzExact(f, 4, func(b []byte) error { _, err := ParseBalance(b); return err })
}

func FuzzParsePurchaseInit(f *testing.F) {
	fuzzExact(f, 15, func(b []byte) error {
		in, err := ParsePurchaseInit(b)
		if err == nil && in.OverdraftLimit > 0xFFFFFF {
			panic("overdraft beyond 3 bytes")
		}
		return err
	})
}

func FuzzParseLoadInit(f *testing.F) {
	fuzzExact(f, 16, func(b []byte) error { _, err := ParseLoadInit(b); return err })
}

func FuzzParseDebit(f *testing.F) {
	fuzzExact(f, 8, func(b []byte) error {
		tac, mac2, err := ParseDebit(b)
		if err == nil && (!bytes.Equal(tac[:], b[:4]) || !bytes.Equal(mac2[:], b[4:])) {
			panic("TAC must come first")
		}
		return err
	})
}

func FuzzParseProve(f *testing.F) {
	fuzzExact(f, 8, func(b []byte) error {
		mac, tac, err := ParseProve(b)
		if err == nil && (!bytes.Equal(mac[:], b[:4]) || !bytes.Equal(tac[:], b[4:])) {
			panic("MAC must come first")
		}
		return err
	})
}

func FuzzParseCredit(f *testing.F) {
	fuzzExact(f, 4, func(b []byte) error { _, err := ParseCredit(b); return err })
}

func FuzzParsePublicData(f *testing.F) {
	f.Add(newTestCard(AlgDES, 1, 0).pub.Bytes())
	fuzzExact(f, PublicDataLen, func(b []byte) error {
		p, err := ParsePublicData(b)
		if err == nil && !bytes.Equal(p.Bytes()[:34], b[:34]) {
			panic("re-encoding differs")
		}
		return err
	})
}

func FuzzParseRecord(f *testing.F) {
	fuzzExact(f, RecordLen, func(b []byte) error {
		r, err := ParseRecord(b)
		if err == nil && !bytes.Equal(r.Bytes(), b) {
			panic("re-encoding differs")
		}
		return err
	})
}

func FuzzParseSAMPurchaseRequest(f *testing.F) {
	fuzzExact(f, SAMPurchaseRequestLen, func(b []byte) error {
		r, err := ParseSAMPurchaseRequest(b)
		if err == nil && !bytes.Equal(r.Bytes(), b) {
			panic("re-encoding differs")
		}
		return err
	})
}

// FuzzSystemPIN: the PSAM's cipher text (80 FA) and the PIN block a
// SystemPINSource returns come from outside. Decimalising never panics
// and gives six BCD digits from 8 bytes or more; a PIN block VERIFY
// accepts is BCD digits whose command carries it back.
func FuzzSystemPIN(f *testing.F) {
	f.Add([]byte{0xC0, 0x69, 0x1D, 0x4B, 0x9D, 0xFF, 0xAF, 0xAE})
	f.Add([]byte{0x06, 0x91, 0x49})
	f.Add([]byte{0x12, 0x3F})
	f.Fuzz(func(t *testing.T, b []byte) {
		pin, err := SystemPINFromCipher(b)
		switch {
		case len(b) < 8 && err == nil:
			t.Fatalf("%d bytes decimalised", len(b))
		case len(b) >= 8 && err != nil:
			t.Fatalf("%X: %v", b, err)
		case err == nil:
			if _, err := bcdPIN(pin); len(pin) != SystemPINDigits/2 || err != nil {
				t.Fatalf("%X gave PIN block %X (%v)", b, pin, err)
			}
		}
		cmd, err := VerifySystemPINCommand(b)
		if err != nil {
			return
		}
		if d, err := bcdPIN(cmd.Data); err != nil || cmd.P2 != PINRefSystem {
			t.Fatalf("VERIFY of %X carries %X (%v)", b, cmd.Data, err)
		} else if d2, _ := bcdPIN(b); d != d2 {
			t.Fatalf("VERIFY of %X carries PIN %s, want %s", b, d, d2)
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	fuzzExact(f, ChallengeLen, func(b []byte) error {
		ch, err := ParseChallenge(b)
		if err == nil && !bytes.Equal(ch[:], b) {
			panic("challenge differs from the answer")
		}
		return err
	})
}

// FuzzParseCampusData: file 0x12 comes from the card. What parses
// re-encodes to the input exactly (layout byte and reserved zeros
// included), so no field is read from bytes the layout does not give it.
func FuzzParseCampusData(f *testing.F) {
	f.Add(CampusData{TxnLimit: 5000, DailyLimit: 20000, StatusListVersion: 7}.Bytes())
	f.Add(append([]byte{0x02}, make([]byte, CampusDataLen-1)...))
	fuzzExact(f, CampusDataLen, func(b []byte) error {
		d, err := ParseCampusData(b)
		if err == nil && !bytes.Equal(d.Bytes(), b) {
			panic("re-encoding differs")
		}
		return err
	})
}
