package protocol_test

import (
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/openykt/yktd/protocol"
)

// TestStrictDecMode: the strict mode refuses what hostile input uses
// (duplicate keys, indefinite lengths, tags, invalid UTF-8, unknown
// fields, too long arrays) and decodes the plain encoding.
func TestStrictDecMode(t *testing.T) {
	dm := protocol.MustStrictDecMode(protocol.DecLimits{Nesting: 4, ArrayElements: 16, MapPairs: 16})
	type msg struct {
		A int    `cbor:"1,keyasint"`
		B string `cbor:"2,keyasint"`
	}
	var m msg
	if err := dm.Unmarshal([]byte{0xA2, 0x01, 0x05, 0x02, 0x61, 'x'}, &m); err != nil || m != (msg{A: 5, B: "x"}) {
		t.Fatalf("plain map: %+v, %v", m, err)
	}
	for name, b := range map[string][]byte{
		"duplicate key":  {0xA2, 0x01, 0x05, 0x01, 0x06},
		"indefinite map": {0xBF, 0x01, 0x05, 0xFF},
		"tag":            {0xC1, 0xA1, 0x01, 0x05},
		"invalid UTF-8":  {0xA1, 0x02, 0x61, 0xFF},
		"unknown field":  {0xA1, 0x03, 0x05},
	} {
		var m msg
		if err := dm.Unmarshal(b, &m); err == nil {
			t.Errorf("%s: decoded % X", name, b)
		}
	}
	// The limits, decoding into any so that nothing else is in the way.
	pairs := []byte{0xB1}
	for k := byte(0); k < 17; k++ {
		pairs = append(pairs, k, 0x00)
	}
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"17 pairs":    {pairs, &cbor.MaxMapPairsError{}},
		"17 elements": {append([]byte{0x91}, make([]byte, 17)...), &cbor.MaxArrayElementsError{}},
		"5 deep":      {[]byte{0x81, 0x81, 0x81, 0x81, 0x81, 0x00}, &cbor.MaxNestedLevelError{}},
	} {
		var v any
		if err := dm.Unmarshal(c.b, &v); err == nil || reflect.TypeOf(err) != reflect.TypeOf(c.want) {
			t.Errorf("%s: %v, want a %T", name, err, c.want)
		}
		if err := dm.Unmarshal(c.b[:0], &v); err == nil {
			t.Errorf("%s: empty input decoded", name)
		}
	}
	var v any
	if err := dm.Unmarshal(append([]byte{0x90}, make([]byte, 16)...), &v); err != nil {
		t.Errorf("16 elements: %v", err)
	}

	defer func() {
		if recover() == nil {
			t.Error("no panic for a nesting limit the cbor package refuses")
		}
	}()
	protocol.MustStrictDecMode(protocol.DecLimits{Nesting: 1 << 30, ArrayElements: 16, MapPairs: 16})
}
