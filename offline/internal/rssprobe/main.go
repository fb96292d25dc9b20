// Command rssprobe is the child process of offline's
// BenchmarkResidentMemory1M: a static binary that does what a gate does
// with its status list and nothing else — open the store read-write (as the
// daemon does), then look up random cards — and prints its resident set
// from /proc/self/status. It is built by the benchmark, never shipped.
//
//	rssprobe -db FILE [-n LOOKUPS] [-range N]
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/openykt/yktd/offline"
)

func main() {
	db := flag.String("db", "", "store file")
	n := flag.Int("n", 200_000, "lookups")
	rng := flag.Int("range", 2_000_000, "cards are 2%09d of a number below this")
	flag.Parse()
	if err := run(*db, *n, *rng); err != nil {
		fmt.Fprintln(os.Stderr, "rssprobe:", err)
		os.Exit(1)
	}
}

func run(path string, n, rng int) error {
	s, err := offline.Open(path, offline.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 0, 16)
	for i := 0; i < n; i++ {
		buf = fmt.Appendf(buf[:0], "2%09d", r.IntN(rng))
		if _, _, err := s.Lookup(string(buf)); err != nil {
			return err
		}
	}
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") || strings.HasPrefix(l, "RssAnon:") || strings.HasPrefix(l, "RssFile:") {
			fmt.Println("MEM", l)
		}
	}
	return nil
}
