package perf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory from /proc/PID/status, in KiB.
type Memory struct {
	RSS uint64 // VmRSS: resident now
	HWM uint64 // VmHWM: the peak resident since the process started
	// RSS split: anonymous memory (the heap, stacks) and file pages
	// (the binary, the store's mmap); 0 when the kernel does not say.
	Anon, File uint64
}

// ErrNoMemory: the status text has no VmRSS or VmHWM line (a kernel
// thread, or a process that has exited and is a zombie).
var ErrNoMemory = errors.New("perf: no VmRSS/VmHWM in the process status")

// ParseStatus reads VmRSS and VmHWM from the text of /proc/PID/status
// ("VmRSS:\t   12345 kB"). Both must be there, in kB.
func ParseStatus(r io.Reader) (Memory, error) {
	var m Memory
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		var dst *uint64
		switch key {
		case "VmRSS":
			dst, seen = &m.RSS, seen|1
		case "VmHWM":
			dst, seen = &m.HWM, seen|2
		case "RssAnon":
			dst = &m.Anon
		case "RssFile":
			dst = &m.File
		}
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("perf: process status: %s: %q, want a number of kB", key, rest)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("perf: process status: %s: %w", key, err)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("perf: process status: %w", err)
	}
	if seen != 3 {
		return Memory{}, ErrNoMemory
	}
	return m, nil
}

// ReadMemory reads the memory of process pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("perf: %w", err)
	}
	defer f.Close()
	return ParseStatus(f)
}

// MiB formats KiB as MiB with one decimal.
func MiB(kib uint64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
