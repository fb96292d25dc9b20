#!/usr/bin/env bash
# bench.sh [OUT]: the whole side-by-side run behind `make bench-sqlite`.
#
# 0. go vet and go test of this module (the SQLite workload persists);
# 1. BenchmarkSale on every engine, $COUNT rounds, no strace (plain.txt);
# 2. the same under strace delaying every fsync and fdatasync by $DELAY_US
#    microseconds, what SD cards and eMMC do (slow.txt);
# 3. fsyncs.sh: fsync+fdatasync calls per sale of each engine (fsyncs.txt);
# 4. benchstat over plain.txt and slow.txt, if it resolves (benchstat-*.txt);
# 5. saletable: one table of medians and sqlite/bbolt ratios.
# Raw outputs stay in OUT (default ../../dist/bench-sqlite) for benchstat.
# The stores live in TMPDIR, which must be a real disk, not tmpfs: on tmpfs
# an fsync does nothing and the run measures nothing worth a ratio.
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
COUNT=${COUNT:-5}
DELAY_US=${DELAY_US:-10000}
out=${1:-../../dist/bench-sqlite}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=${TMPDIR:-/tmp}
if [ "$(stat -f -c %T "$tmp")" = tmpfs ]; then
	echo "bench.sh: $tmp is tmpfs, where fsync is free; set TMPDIR to a directory on a disk" >&2
	exit 1
fi
command -v strace >/dev/null || { echo "bench.sh: strace is needed (apt-get install strace)" >&2; exit 1; }

echo "bench-sqlite: go vet and the tests of the benchmark module (the workload persists)" >&2
CGO_ENABLED=1 "$GO" vet ./...
CGO_ENABLED=1 "$GO" test -count=1 ./...
bin=$out/sqlite.test
CGO_ENABLED=1 "$GO" test -c -o "$bin" .
"$GO" build -o "$out/saletable" ./cmd/saletable
bench=(-test.run '^$' -test.bench '^BenchmarkSale$' -test.count 1)

# -count would run one engine's repetitions back to back, so that a spell
# of disk noise from the rest of the machine lands on one engine only: the
# binary is run $COUNT times instead, each time every engine in turn.
echo "bench-sqlite: BenchmarkSale, $COUNT rounds over the engines, stores in $tmp" >&2
: >"$out/plain.txt"
for _ in $(seq "$COUNT"); do
	"$bin" "${bench[@]}" >>"$out/plain.txt"
done
echo "bench-sqlite: the same with every fsync and fdatasync delayed by ${DELAY_US} µs (strace inject)" >&2
: >"$out/slow.txt"
for _ in $(seq "$COUNT"); do
	strace -f --seccomp-bpf -qq -o /dev/null -e trace=fsync,fdatasync \
		-e inject=fsync,fdatasync:delay_exit="$DELAY_US" "$bin" "${bench[@]}" >>"$out/slow.txt"
done
echo "bench-sqlite: fsync+fdatasync calls per sale (strace -c)" >&2
: >"$out/fsyncs.txt"
# The engines that ran, without the -GOMAXPROCS suffix (absent at 1).
for e in $(sed -n 's/^BenchmarkSale\/engine=\([^[:space:]]*\).*/\1/p' "$out/plain.txt" | sed 's/-[0-9]*$//' | sort -u); do
	./fsyncs.sh "$bin" "$e" >>"$out/fsyncs.txt"
done
cat "$out/fsyncs.txt" >&2
# benchstat (pinned) over the raw outputs, beside the table, where it resolves.
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
for r in plain slow; do
	"$GO" run "$benchstat" -col /engine "$out/$r.txt" >"$out/benchstat-$r.txt" 2>&1 ||
		echo "bench-sqlite: benchstat did not run (see $out/benchstat-$r.txt); the table does not need it" >&2
done
delay=$(awk -v us="$DELAY_US" 'BEGIN { printf "%g ms", us / 1000 }')
"$out/saletable" -plain "$out/plain.txt" -slow "$out/slow.txt" -fsyncs "$out/fsyncs.txt" -delay "$delay" | tee "$out/table.md"
