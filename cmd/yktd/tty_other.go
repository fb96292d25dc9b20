//go:build !linux

package main

import "os"

// rawKeys does nothing off Linux: yktd's terminals run Linux.
func rawKeys(*os.File) (restore func(), terminal bool) { return func() {}, false }
