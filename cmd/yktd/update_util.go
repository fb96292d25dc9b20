package main

import (
	"crypto/sha256"
	"flag"

	"github.com/openykt/yktd/protocol"
)

// signerFile is a release key loaded from its file.
type signerFile struct{ *protocol.Signer }

// flagSetSlots is the flag set of a device subcommand (with --slots).
type flagSetSlots struct{ *flag.FlagSet }

func sha256Of(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
