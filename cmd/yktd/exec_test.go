package main

import (
	"os"
	"testing"
)

// asYktdEnv makes the test binary behave as the yktd binary: TestMain runs
// the command line instead of the tests, so that tests start real yktd
// processes (their own signals, exit codes, files) without a build step.
const asYktdEnv = "YKTD_TEST_AS_YKTD"

func TestMain(m *testing.M) {
	if os.Getenv(asYktdEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
