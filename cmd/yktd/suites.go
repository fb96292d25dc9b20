package main

// The signature suites the binary verifies besides Ed25519: SM2/SM3 for
// campuses that require commercial cryptography (国密).
import _ "github.com/openykt/yktd/protocol/sm2suite"
