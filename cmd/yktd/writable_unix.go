//go:build unix

package main

import "golang.org/x/sys/unix"

// writable tells whether this process may make files in the directory dir
// (access(2) with W_OK and X_OK), without making one.
func writable(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}
