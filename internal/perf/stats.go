package perf

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary describes a sample of durations.
type Summary struct {
	N                  int
	Min, P50, P99, Max time.Duration
	Mean               time.Duration
}

// Summarize returns the summary of xs (which it does not change). An
// empty sample has N 0 and zero figures.
func Summarize(xs []time.Duration) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return Summary{N: len(s), Min: s[0], Max: s[len(s)-1], P50: Percentile(s, 50), P99: Percentile(s, 99),
		Mean: sum / time.Duration(len(s))}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value that at least p percent of the
// sample do not exceed. It is a value of the sample, never an
// interpolation, so p99 of 200 taps is the second slowest. It panics on an
// empty sample or a p outside (0, 100].
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 || !(p > 0 && p <= 100) {
		panic(fmt.Sprintf("perf: percentile %v of %d values", p, len(sorted)))
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// String is "p50 X p99 Y (n N)".
func (s Summary) String() string {
	return fmt.Sprintf("p50 %s p99 %s (n %d)", Ms(s.P50), Ms(s.P99), s.N)
}

// Ms formats d in milliseconds with three significant decimals at most.
func Ms(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}
