package testbuf_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
)

// TestWaitFor: writers in other goroutines wake a waiter, which returns
// once the text it waits for is there; String has every write.
func TestWaitFor(t *testing.T) {
	var b testbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %d\n", i)
		}()
	}
	b.WaitFor(t, "line 7\n", time.Minute)
	wg.Wait()
	for i := range 8 {
		b.WaitFor(t, fmt.Sprintf("line %d\n", i), time.Minute)
	}
	if n := len(b.String()); n != 8*len("line 0\n") {
		t.Fatalf("%d bytes written, want %d", n, 8*len("line 0\n"))
	}
}
