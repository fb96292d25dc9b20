package sam

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"
)

// TestKeyFile is testdata/keys-test.json: a key file of public TEST KEYS
// ONLY, for tests, the rig and the simulated cards of reader/sim. Never
// issue a real card or PSAM with it.
//
//go:embed testdata/keys-test.json
var TestKeyFile []byte

// TestKeys parses TestKeyFile, with SequenceFile cleared (a software SAM
// made from it keeps its sequence in memory). It panics if the embedded
// file is broken, which a test of this package rules out.
func TestKeys() KeyFile {
	kf, err := ParseKeyFile(TestKeyFile)
	if err != nil {
		panic(err)
	}
	kf.SequenceFile = ""
	return kf
}

// TestTerminalIDFor is the terminal id of a rig device's software SAM of
// the test keys: 0000 and four bytes of SHA-256 of the device id, so that
// each device of a rig holds its own PSAM, as in the field, and the
// ledger's PSAM binding (one PSAM, one device) holds across the rig.
func TestTerminalIDFor(device string) [6]byte {
	sum := sha256.Sum256([]byte("yktd test PSAM " + device))
	var id [6]byte
	copy(id[2:], sum[:4])
	return id
}

// TestKeyFileFor is TestKeyFile with the terminal id TestTerminalIDFor
// device: the key file `yktd provision --soft-sam` writes.
func TestKeyFileFor(device string) []byte {
	id := TestTerminalIDFor(device)
	return bytes.Replace(TestKeyFile, []byte(`"terminal_id": "0000000000F1"`),
		[]byte(`"terminal_id": "`+strings.ToUpper(hex.EncodeToString(id[:]))+`"`), 1)
}

// TestKeysFor parses TestKeyFileFor device, like TestKeys.
func TestKeysFor(device string) KeyFile {
	kf := TestKeys()
	kf.TerminalID = TestTerminalIDFor(device)
	return kf
}
