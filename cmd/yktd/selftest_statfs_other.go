//go:build !(linux || darwin)

package main

import "errors"

// statfs is not implemented off Linux (and macOS, for development):
// yktd's terminals run Linux.
func statfs(string) (free, total uint64, err error) {
	return 0, 0, errors.New("free space not read on this system")
}
