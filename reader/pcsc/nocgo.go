//go:build !cgo

package pcsc

const cgoAvailable = false

// newCgoBackend is never called without cgo (cgoAvailable is false).
func newCgoBackend() backend { panic("pcsc: cgo backend not compiled in") }
