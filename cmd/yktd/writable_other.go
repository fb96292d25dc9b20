//go:build !unix

package main

// writable does not check off Unix: yktd's terminals run Linux.
func writable(string) error { return nil }
