package sam

import _ "embed"

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
