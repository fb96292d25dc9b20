#!/usr/bin/env bash
# fsyncs.sh TESTBIN ENGINE [N1 N2]: the fsync and fdatasync calls per sale
# of BenchmarkSale on ENGINE, counted by strace over the test binary.
#
# The binary is run twice, for N1 and N2 sales (-test.benchtime Nx; b.Loop
# calls the benchmark once, so its setup is counted once in each run), and
# the count per sale is the difference over N2-N1: opening the store is
# left out, the engine's occasional syncs (SQLite's WAL checkpoints, bbolt
# growing its file) are spread over the sales that cause them.
# Prints: engine=ENGINE PER_SALE (N1 sales: C1 calls, N2 sales: C2 calls)
set -euo pipefail
bin=$1 engine=$2 n1=${3:-1000} n2=${4:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # $1: sales; prints the calls of fsync and fdatasync
	strace -f --seccomp-bpf -c -e trace=fsync,fdatasync -o "$tmp/strace.$1" \
		"$bin" -test.run '^$' -test.bench "^BenchmarkSale\$/^engine=$engine\$" -test.benchtime "$1x" >"$tmp/out.$1"
	grep -q "^BenchmarkSale/engine=$engine" "$tmp/out.$1" || { cat "$tmp/out.$1" >&2; echo "fsyncs.sh: no benchmark engine=$engine ran" >&2; exit 1; }
	awk '$NF == "fsync" || $NF == "fdatasync" { n += $4 } END { print n + 0 }' "$tmp/strace.$1"
}
c1=$(count "$n1")
c2=$(count "$n2")
awk -v e="$engine" -v n1="$n1" -v n2="$n2" -v c1="$c1" -v c2="$c2" \
	'BEGIN { printf "engine=%s %.3f (%d sales: %d calls, %d sales: %d calls)\n", e, (c2 - c1) / (n2 - n1), n1, c1, n2, c2 }'
