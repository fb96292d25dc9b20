//go:build unix

package boltfile

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// LockShared takes a shared lock on f (flock, as bbolt locks its file),
// waiting up to timeout while another process holds it exclusively (a
// writer: the daemon), then ErrLocked. Closing f releases it. It keeps a
// writer from changing the file while Check and Walk read it.
func LockShared(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR):
			return err
		case time.Now().After(deadline):
			return ErrLocked
		}
		time.Sleep(20 * time.Millisecond) // bbolt polls its lock the same way
	}
}
