//go:build unix

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// isJournalStream reports whether f is the stream $JOURNAL_STREAM
// ("DEVICE:INODE") names.
func isJournalStream(f *os.File, env string) bool {
	if env == "" {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return env == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
