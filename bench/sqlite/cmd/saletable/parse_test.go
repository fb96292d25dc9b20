package main

import (
	"strings"
	"testing"
)

const benchOut = `goos: linux
BenchmarkSale/engine=bbolt-2         	     376	   3000000 ns/op	    400000 intent-ns/op	    900000 intent-p99-ns
BenchmarkSale/engine=sqlite-2        	    2640	    400000 ns/op	    200000 intent-ns/op	    800000 intent-p99-ns
BenchmarkSale/engine=bbolt-2         	     376	   3400000 ns/op	    500000 intent-ns/op	    900000 intent-p99-ns
BenchmarkSale/engine=sqlite-2        	    2640	    500000 ns/op	    100000 intent-ns/op	    800000 intent-p99-ns
BenchmarkSale/engine=bbolt-2         	     376	   9000000 ns/op	    450000 intent-ns/op	    900000 intent-p99-ns
BenchmarkSale/engine=sqlite-2        	    2640	    450000 ns/op	    300000 intent-ns/op	    800000 intent-p99-ns
PASS
`

func TestMedianAndRatio(t *testing.T) {
	r, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.engines, ",") != "bbolt,sqlite" {
		t.Fatalf("engines %v", r.engines)
	}
	if m, n := r.median("bbolt", "ns/op"); m != 3_400_000 || n != 3 {
		t.Errorf("bbolt ns/op median %v of %d, want 3400000 of 3 (the 9 ms outlier does not move it)", m, n)
	}
	if m, _ := r.median("sqlite", "intent-ns/op"); m != 200_000 {
		t.Errorf("sqlite intent median %v, want 200000", m)
	}
	counts, err := parseFsyncs(strings.NewReader("engine=bbolt 4.000 (1000 sales: 4008 calls)\nengine=sqlite 2.012 (x)\n"))
	if err != nil || counts["bbolt"] != 4 || counts["sqlite"] != 2.012 {
		t.Fatalf("fsync counts %v, %v", counts, err)
	}
	var b strings.Builder
	table(&b, r, r, counts, "10 ms")
	out := b.String()
	for _, want := range []string{
		"| per sale (median of 3; 3 under 10 ms) | bbolt | sqlite | sqlite/bbolt |",
		"| intent+completion, ms | 3.400 | 0.450 | 0.13 |",
		"| fsync+fdatasync calls per sale | 4.000 | 2.012 | 0.50 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestMedianOfEvenCount(t *testing.T) {
	r, err := parseBench(strings.NewReader("BenchmarkSale/engine=x-8 1 10 ns/op\nBenchmarkSale/engine=x-8 1 20 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := r.median("x", "ns/op"); m != 15 {
		t.Errorf("median of 10 and 20 = %v, want 15", m)
	}
}

func TestNoBenchmarkLinesIsAnError(t *testing.T) {
	if _, err := parseBench(strings.NewReader("PASS\nok\n")); err == nil {
		t.Fatal("output without BenchmarkSale lines was accepted: the table would be empty")
	}
	if _, err := parseBench(strings.NewReader("BenchmarkSale/engine=x-2 1 10 ns/op 5\n")); err == nil {
		t.Fatal("a line with a value and no unit was accepted")
	}
}
