package gate_test

import "github.com/openykt/yktd/terminal/terminaltest"

// The helpers the rooms' tests share (terminaltest).
var (
	testNow         = terminaltest.Now
	applySignedList = terminaltest.ApplySignedList
	demoCard        = terminaltest.DemoCard
	gateRules       = terminaltest.GateRules
)
