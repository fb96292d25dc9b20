//go:build linux || darwin

package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// statfs returns the bytes free to this process and the size of the file
// system holding path (statfs(2): f_bavail and f_blocks).
func statfs(path string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	return uint64(st.Bavail) * bs, uint64(st.Blocks) * bs, nil
}
