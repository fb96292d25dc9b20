package perf

import (
	"testing"
	"time"
)

func ms(xs ...float64) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

// Nearest rank: a value of the sample, the smallest that p percent do not
// exceed.
func TestPercentile(t *testing.T) {
	ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	hundred := make([]time.Duration, 200)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"p50 of 10 is the 5th", ten, 50, 5 * time.Millisecond},
		{"p99 of 10 is the largest", ten, 99, 10 * time.Millisecond},
		{"p100 is the largest", ten, 100, 10 * time.Millisecond},
		{"a tiny p is the smallest", ten, 0.1, time.Millisecond},
		{"p50 of 200 is the 100th", hundred, 50, 100 * time.Millisecond},
		{"p99 of 200 is the 198th", hundred, 99, 198 * time.Millisecond},
		{"one value", ms(7), 99, 7 * time.Millisecond},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPercentilePanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []time.Duration
		p    float64
	}{{"empty", nil, 50}, {"p 0", ms(1), 0}, {"p over 100", ms(1), 101}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			Percentile(tc.xs, tc.p)
		}()
	}
}

// Summarize sorts a copy: the caller's order stays, the figures come from
// the sorted sample.
func TestSummarize(t *testing.T) {
	xs := ms(9, 1, 5, 3, 7)
	s := Summarize(xs)
	if s.N != 5 || s.Min != ms(1)[0] || s.Max != ms(9)[0] || s.P50 != ms(5)[0] || s.P99 != ms(9)[0] || s.Mean != ms(5)[0] {
		t.Fatalf("Summarize = %+v", s)
	}
	if xs[0] != ms(9)[0] {
		t.Fatalf("Summarize changed its input: %v", xs)
	}
	if z := Summarize(nil); z != (Summary{}) {
		t.Fatalf("Summarize(nil) = %+v", z)
	}
}

func TestMs(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1234 * time.Microsecond:  "1.23 ms",
		12345 * time.Microsecond: "12.3 ms",
		487 * time.Millisecond:   "487 ms",
		0:                        "0.00 ms",
	} {
		if got := Ms(d); got != want {
			t.Errorf("Ms(%v) = %q, want %q", d, got, want)
		}
	}
}
