package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// results are the values of one run's benchmark lines: engine → unit →
// one value per -count, in the order the engines first appear.
type results struct {
	engines []string
	values  map[string]map[string][]float64
}

// parseBench reads `go test -bench` output and keeps the lines of
// BenchmarkSale/engine=NAME: "BenchmarkSale/engine=sqlite-2  2640  444718 ns/op  216274 intent-ns/op".
func parseBench(r io.Reader) (results, error) {
	res := results{values: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkSale/engine=") {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkSale/engine=")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		if (len(f)-2)%2 != 0 {
			return results{}, fmt.Errorf("saletable: malformed benchmark line %q", sc.Text())
		}
		if res.values[name] == nil {
			res.values[name] = map[string][]float64{}
			res.engines = append(res.engines, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return results{}, fmt.Errorf("saletable: benchmark line %q: %w", sc.Text(), err)
			}
			res.values[name][f[i+1]] = append(res.values[name][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return results{}, fmt.Errorf("saletable: read benchmark output: %w", err)
	}
	if len(res.engines) == 0 {
		return results{}, fmt.Errorf("saletable: no BenchmarkSale lines")
	}
	return res, nil
}

// median returns the median of engine's unit, and how many values it had
// (0: none).
func (r results) median(engine, unit string) (float64, int) {
	vs := slices.Clone(r.values[engine][unit])
	if len(vs) == 0 {
		return 0, 0
	}
	slices.Sort(vs)
	m := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		m = (vs[len(vs)/2-1] + m) / 2
	}
	return m, len(vs)
}

// parseFsyncs reads fsyncs.sh's lines, "engine=NAME PER_SALE (...)".
func parseFsyncs(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[0], "engine=") {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("saletable: fsync line %q: %w", sc.Text(), err)
		}
		out[strings.TrimPrefix(f[0], "engine=")] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("saletable: read fsync counts: %w", err)
	}
	return out, nil
}
