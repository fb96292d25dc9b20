//go:build !unix

package boltfile

import (
	"os"
	"time"
)

// LockShared does nothing where flock does not exist; bbolt's own lock
// still keeps two writers apart.
func LockShared(f *os.File, timeout time.Duration) error { return nil }
