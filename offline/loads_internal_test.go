package offline

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// sampleLoadValue is a credited load intent as stored.
func sampleLoadValue(t testing.TB) (k, v []byte) {
	t.Helper()
	l := Load{ID: 3, State: LoadCredited, Opened: time.UnixMilli(1725177600000).UTC(),
		LoadIntent: LoadIntent{
			CardNo: "2024000001", Amount: 3000, BalanceBefore: 5000, CardCounter: 7,
			TerminalID: []byte{0, 0, 0x12, 0x34, 0x56, 0x78}, TxTime: []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0, 0},
			CardSerial: make([]byte, 8), KeyIndex: 1, KeyVersion: 1, LoadID: "42", MAC2: []byte{1, 2, 3, 4},
		},
		BalanceAfter: 8000, TAC: []byte{5, 6, 7, 8}, Seq: 11,
	}
	raw, err := loadEnc.Marshal(l.value())
	if err != nil {
		t.Fatal(err)
	}
	return be64(3), raw
}

// TestDecodeLoadRefuses: a stored load intent decodes back as written;
// every value that is not one is ErrCorrupt.
func TestDecodeLoadRefuses(t *testing.T) {
	k, v := sampleLoadValue(t)
	l, err := decodeLoad(k, v)
	if err != nil || l.ID != 3 || l.State != LoadCredited || l.Seq != 11 || l.LoadID != "42" || l.BalanceAfter != 8000 {
		t.Fatalf("decodeLoad = %+v, %v", l, err)
	}
	mk := func(f func(*Load)) []byte {
		c := l
		f(&c)
		raw, err := loadEnc.Marshal(c.value())
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for name, kv := range map[string][2][]byte{
		"short key":          {k[:7], v},
		"key zero":           {make([]byte, 8), v},
		"empty":              {k, nil},
		"garbage":            {k, []byte{0xFF, 0x00}},
		"trailing":           {k, append(append([]byte(nil), v...), 0)},
		"state 0":            {k, mk(func(l *Load) { l.State = 0 })},
		"state 9":            {k, mk(func(l *Load) { l.State = 9 })},
		"credited no TAC":    {k, mk(func(l *Load) { l.TAC = nil })},
		"open with TAC":      {k, mk(func(l *Load) { l.State = LoadOpen })},
		"bad terminal id":    {k, mk(func(l *Load) { l.TerminalID = []byte{1} })},
		"no load id":         {k, mk(func(l *Load) { l.LoadID = "" })},
		"negative balance":   {k, mk(func(l *Load) { l.BalanceBefore = -1 })},
		"credited no record": {k, mk(func(l *Load) { l.Seq = 0 })},
	} {
		if _, err := decodeLoad(kv[0], kv[1]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzLoadValue decodes hostile entries of the load intents' bucket.
func FuzzLoadValue(f *testing.F) {
	k, v := sampleLoadValue(f)
	f.Add(k, v)
	f.Add(k, v[:len(v)/2])
	f.Fuzz(func(t *testing.T, k, v []byte) {
		l, err := decodeLoad(k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeLoad: %v", err)
			}
			return
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != l.ID || l.State == 0 || l.State > loadStateMax || l.validate() != nil {
			t.Fatalf("accepted %x → %x as %+v", k, v, l)
		}
		again, err := loadEnc.Marshal(l.value())
		if err != nil || string(again) != string(v) {
			t.Fatalf("accepted %x but it encodes as %x", v, again)
		}
	})
}
