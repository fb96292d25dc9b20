package cardread_test

import "github.com/openykt/yktd/terminal/terminaltest"

// The helpers the rooms' tests share (terminaltest).
var (
	demoCard = terminaltest.DemoCard
)
