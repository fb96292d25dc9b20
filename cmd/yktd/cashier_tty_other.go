//go:build !linux

package main

import "os"

// noEcho cannot turn a terminal's echo off here (yktd's terminals run
// Linux): the PIN is read as a line, as from a pipe.
func noEcho(*os.File) (restore func(), tty bool) { return func() {}, false }
