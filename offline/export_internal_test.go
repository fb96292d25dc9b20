package offline

// SetNonceCapForTest lowers the nonce cache bound and returns a function
// that restores it.
func SetNonceCapForTest(n uint64) func() {
	old := nonceCap
	nonceCap = n
	return func() { nonceCap = old }
}
