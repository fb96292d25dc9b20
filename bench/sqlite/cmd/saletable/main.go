// Command saletable prints bench/sqlite's one table from the outputs of a
// run: BenchmarkSale's plain run, its run under strace's injected fsync
// latency, and fsyncs.sh's counts. Each figure is the median over the
// run's -count; each ratio is sqlite over a bbolt engine, from the same run.
//
//	saletable -plain plain.txt -slow slow.txt -fsyncs fsyncs.txt -delay 10ms
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	plain := flag.String("plain", "", "BenchmarkSale output without strace")
	slow := flag.String("slow", "", "BenchmarkSale output under strace's injected fsync latency")
	fsyncs := flag.String("fsyncs", "", "fsyncs.sh output, one line per engine")
	delay := flag.String("delay", "10 ms", "the injected latency, for the table's labels")
	flag.Parse()
	if err := run(os.Stdout, *plain, *slow, *fsyncs, *delay); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(w io.Writer, plainPath, slowPath, fsyncPath, delay string) error {
	var plain, slow results
	var counts map[string]float64
	for _, in := range []struct {
		path  string
		parse func(f *os.File) error
	}{
		{plainPath, func(f *os.File) (err error) { plain, err = parseBench(f); return err }},
		{slowPath, func(f *os.File) (err error) { slow, err = parseBench(f); return err }},
		{fsyncPath, func(f *os.File) (err error) { counts, err = parseFsyncs(f); return err }},
	} {
		f, err := os.Open(in.path)
		if err != nil {
			return fmt.Errorf("saletable: %w", err)
		}
		err = in.parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%w (%s)", err, in.path)
		}
	}
	table(w, plain, slow, counts, delay)
	return nil
}

// row is one line of the table: a label and the figure of each engine.
type row struct {
	label string
	value func(engine string) (float64, bool)
}

func ms(r results, unit string) func(string) (float64, bool) {
	return func(e string) (float64, bool) {
		m, n := r.median(e, unit)
		return m / 1e6, n > 0
	}
}

// table writes the figures as a Markdown table: one column per engine, then
// sqlite/ENGINE for each other engine.
func table(w io.Writer, plain, slow results, counts map[string]float64, delay string) {
	engines := plain.engines
	_, runs := plain.median(engines[0], "ns/op")
	_, slowRuns := slow.median(engines[0], "ns/op")
	rows := []row{
		{"intent commit, ms", ms(plain, "intent-ns/op")},
		{"intent commit p99, ms", ms(plain, "intent-p99-ns")},
		{"intent+completion, ms", ms(plain, "ns/op")},
		{"fsync+fdatasync calls per sale", func(e string) (float64, bool) { v, ok := counts[e]; return v, ok }},
		{"intent commit, " + delay + " fsync, ms", ms(slow, "intent-ns/op")},
		// No p99 under the delay: a run there has some 50 sales, so its
		// p99 is its slowest sale (slow.txt still has it).
		{"intent+completion, " + delay + " fsync, ms", ms(slow, "ns/op")},
	}
	var others []string
	for _, e := range engines {
		if e != "sqlite" {
			others = append(others, e)
		}
	}
	head := []string{fmt.Sprintf("per sale (median of %d; %d under %s)", runs, slowRuns, delay)}
	head = append(head, engines...)
	for _, e := range others {
		head = append(head, "sqlite/"+e)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, r := range rows {
		cells := []string{r.label}
		for _, e := range engines {
			cells = append(cells, cell(r.value(e)))
		}
		sq, sqOK := r.value("sqlite")
		for _, e := range others {
			v, ok := r.value(e)
			if !sqOK || !ok || v == 0 {
				cells = append(cells, "–")
				continue
			}
			cells = append(cells, fmt.Sprintf("%.2f", sq/v))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

func cell(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}
