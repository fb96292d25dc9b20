package offline

import (
	"errors"
	"testing"
	"time"
)

// sampleCardWriteValue is a written card-write intent as stored.
func sampleCardWriteValue(t testing.TB) (k, v []byte) {
	t.Helper()
	w := CardWriteIntent{WriteID: "W-7", CardNo: "2024000001", Field: "tx-limit", Trade: "set-limit", Operator: "desk-op1",
		Writes: []CardWriteBinary{{SFI: 0x12, Offset: 1, Data: []byte{0, 0, 0x4E, 0x20, 0, 0, 0x75, 0x30}}},
		Opened: time.UnixMilli(1725177600000).UTC(), Outcome: CardWriteWritten, Echo: CardWriteEcho{TxLimit: 20000},
		Reported: true, Seq: 9, no: 2}
	raw, err := cardWriteEnc.Marshal(w.value())
	if err != nil {
		t.Fatal(err)
	}
	return []byte(w.WriteID), raw
}

// TestDecodeCardWriteRefuses: a stored intent decodes back as written;
// every value that is not one is ErrCorrupt.
func TestDecodeCardWriteRefuses(t *testing.T) {
	k, v := sampleCardWriteValue(t)
	w, err := decodeCardWrite(k, v)
	if err != nil || w.WriteID != "W-7" || w.no != 2 || w.Seq != 9 || !w.Reported || w.Echo.TxLimit != 20000 || len(w.Writes) != 1 || w.Writes[0].SFI != 0x12 {
		t.Fatalf("decodeCardWrite = %+v, %v", w, err)
	}
	mk := func(f func(*CardWriteIntent)) []byte {
		c := w
		c.Writes = append([]CardWriteBinary(nil), w.Writes...)
		f(&c)
		raw, err := cardWriteEnc.Marshal(c.value())
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for name, kv := range map[string][2][]byte{
		"empty key":          {nil, v},
		"bad key":            {[]byte("W 7"), v},
		"empty":              {k, nil},
		"garbage":            {k, []byte{0xFF, 0x00}},
		"trailing":           {k, append(append([]byte(nil), v...), 0)},
		"no order":           {k, mk(func(w *CardWriteIntent) { w.no = 0 })},
		"bad card":           {k, mk(func(w *CardWriteIntent) { w.CardNo = "" })},
		"no trade":           {k, mk(func(w *CardWriteIntent) { w.Trade = "" })},
		"unknown outcome":    {k, mk(func(w *CardWriteIntent) { w.Outcome = "maybe" })},
		"open with record":   {k, mk(func(w *CardWriteIntent) { w.Outcome, w.Echo, w.Reported = "", CardWriteEcho{}, false })},
		"open reported":      {k, mk(func(w *CardWriteIntent) { w.Outcome, w.Echo, w.Seq = "", CardWriteEcho{}, 0 })},
		"settled no record":  {k, mk(func(w *CardWriteIntent) { w.Seq = 0 })},
		"failed with echo":   {k, mk(func(w *CardWriteIntent) { w.Outcome = CardWriteFailed })},
		"echo out of range":  {k, mk(func(w *CardWriteIntent) { w.Echo.TxLimit = -5 })},
		"SFI 0":              {k, mk(func(w *CardWriteIntent) { w.Writes[0].SFI = 0 })},
		"empty command data": {k, mk(func(w *CardWriteIntent) { w.Writes[0].Data = nil })},
		"negative open time": {k, mk(func(w *CardWriteIntent) { w.Opened = time.UnixMilli(-1) })},
		"oversized":          {k, make([]byte, maxCardWriteValue+1)},
		"long operator":      {k, mk(func(w *CardWriteIntent) { w.Operator = "0123456789012345678901234567890123" })},
		"five commands": {k, mk(func(w *CardWriteIntent) {
			w.Writes = append(w.Writes, w.Writes[0], w.Writes[0], w.Writes[0], w.Writes[0])
		})},
	} {
		if _, err := decodeCardWrite(kv[0], kv[1]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzCardWriteValue decodes hostile entries of the card-write intents'
// bucket: whatever decodes is a valid intent that encodes to the same
// bytes.
func FuzzCardWriteValue(f *testing.F) {
	k, v := sampleCardWriteValue(f)
	f.Add(k, v)
	f.Add(k, v[:len(v)/2])
	f.Fuzz(func(t *testing.T, k, v []byte) {
		w, err := decodeCardWrite(k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeCardWrite: %v", err)
			}
			return
		}
		if w.WriteID != string(k) || w.no == 0 || w.validateWrite() != nil || (w.Outcome != "" && validateOutcome(w.Outcome, w.Echo) != nil) {
			t.Fatalf("accepted %q → %x as %+v", k, v, w)
		}
		again, err := cardWriteEnc.Marshal(w.value())
		if err != nil || string(again) != string(v) {
			t.Fatalf("accepted %x but it encodes as %x", v, again)
		}
	})
}
