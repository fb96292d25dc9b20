package protocol

import "github.com/fxamacker/cbor/v2"

// DecLimits bound what a strict CBOR decoder accepts.
type DecLimits struct {
	Nesting       int // deepest nesting of arrays and maps
	ArrayElements int // longest array
	MapPairs      int // largest map
}

// MustStrictDecMode returns a CBOR decoding mode for hostile input, under
// the rules every decoder of ours follows (records, messages, and what the
// offline store keeps of them): no duplicate map keys, no indefinite
// lengths, no tags, valid UTF-8, no unknown fields, field names matched
// exactly, and nesting, array and map lengths bounded by l. It panics on
// limits the cbor package refuses: call it when the package initialises.
func MustStrictDecMode(l DecLimits) cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   l.Nesting,
		MaxArrayElements:  l.ArrayElements,
		MaxMapPairs:       l.MapPairs,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic("protocol: strict decoding mode: " + err.Error())
	}
	return dm
}
