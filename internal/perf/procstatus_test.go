package perf

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const statusSample = `Name:	yktd
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 1262208 kB
VmSize:	 1262208 kB
VmHWM:	   21876 kB
VmRSS:	   19312 kB
RssAnon:	    9216 kB
RssFile:	   10096 kB
RssShmem:	       0 kB
Threads:	9
`

func TestParseStatus(t *testing.T) {
	m, err := ParseStatus(strings.NewReader(statusSample))
	if err != nil || m.RSS != 19312 || m.HWM != 21876 || m.Anon != 9216 || m.File != 10096 {
		t.Fatalf("ParseStatus = %+v, %v", m, err)
	}
	if got := MiB(m.RSS); got != "18.9 MiB" {
		t.Fatalf("MiB = %q", got)
	}
}

func TestParseStatusRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"zombie: no Vm lines": "Name:\tyktd\nState:\tZ (zombie)\n",
		"only VmRSS":          "VmRSS:\t 100 kB\n",
	} {
		if _, err := ParseStatus(strings.NewReader(text)); !errors.Is(err, ErrNoMemory) {
			t.Errorf("%s: err %v, want ErrNoMemory", name, err)
		}
	}
	for name, text := range map[string]string{
		"not a number": "VmRSS:\t lots kB\nVmHWM:\t 1 kB\n",
		"another unit": "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n",
		"no unit":      "VmRSS:\t 1\nVmHWM:\t 1 kB\n",
		"bad RssFile":  "VmRSS:\t 1 kB\nVmHWM:\t 1 kB\nRssFile:\t x kB\n",
	} {
		if _, err := ParseStatus(strings.NewReader(text)); err == nil || errors.Is(err, ErrNoMemory) {
			t.Errorf("%s: err %v, want a parse error", name, err)
		}
	}
}

// The test process's own status parses, with a peak at least the current.
func TestReadMemorySelf(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS == 0 || m.HWM < m.RSS {
		t.Fatalf("own memory %+v", m)
	}
}
