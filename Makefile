# The Makefile is the interface: CI only calls these targets.
# No target rewrites sources.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# BUILD_DATE: the last commit's date (reproducible), the clock check's
# floor in `yktd selftest`.
BUILD_DATE ?= $(shell git log -1 --format=%cs 2>/dev/null)
LDFLAGS   := -s -w -X main.version=$(VERSION) $(if $(BUILD_DATE),-X main.buildDate=$(BUILD_DATE))
GOFLAGS_B := -trimpath -ldflags '$(LDFLAGS)'
DIST      := dist

# Packages that are pure Go and run under qemu-user on linux/arm.
PORTABLE  ?= $(shell $(GO) list ./... | grep -v -e /cmd/ -e /reader/pcsc)

# Budget of each fuzz target in fuzz-smoke: an execution count, not a
# duration: go1.26's coordinator can fail a duration run with a spurious
# "context deadline exceeded" at the -fuzztime boundary (golang/go#75804).
FUZZTIME  ?= 5000x

.PHONY: all build cross deb sim test test-short test-arm bench fuzz-smoke lint clean scenarios scenarios-pcscd perf

all: build

## build: static binary for the host and cross builds for linux/arm (GOARM=7) and linux/arm64 in dist/
build: cross
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_B) -o $(DIST)/yktd ./cmd/yktd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_B) -o $(DIST)/ledgerd ./cmd/ledgerd

cross:
	@mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(GOFLAGS_B) -o $(DIST)/yktd-linux-armv7 ./cmd/yktd
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_B) -o $(DIST)/yktd-linux-arm64 ./cmd/yktd
	@ls -l $(DIST)/

## deb: Debian packages of yktd for amd64, arm64 and armhf in dist/deb (nfpm, pinned in packaging/go.mod; docs/packaging.md)
deb:
	GO=$(GO) DIST=$(DIST) LDFLAGS='$(LDFLAGS)' packaging/deb.sh

## sim: the daemon on the simulator with the reference ledger in-process (the README's main job); SIM_ARGS="--kind gate" for a turnstile
sim:
	CGO_ENABLED=0 $(GO) run ./cmd/yktd run --sim $(SIM_ARGS)

## test: the whole suite with the race detector (the README's test command)
test:
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...

## scenarios: the rig's acceptance suite (testdata/scenarios, docs/rig.md) against freshly built binaries; JUnit XML in dist/scenarios.xml
scenarios:
	@mkdir -p $(DIST)
	CGO_ENABLED=0 $(GO) build -o $(DIST)/ ./cmd/yktd ./cmd/ledgerd
	$(DIST)/yktd rig run --ledgerd $(DIST)/ledgerd --junit $(DIST)/scenarios.xml testdata/scenarios/*.toml

## scenarios-pcscd: the scenarios on virtual cards behind the machine's real pcscd and vpcd (takes the rig lock; CI runs it)
scenarios-pcscd:
	@mkdir -p $(DIST)
	CGO_ENABLED=0 $(GO) build -o $(DIST)/ ./cmd/yktd ./cmd/ledgerd
	$(DIST)/yktd rig run --pcscd --ledgerd $(DIST)/ledgerd --junit $(DIST)/scenarios-pcscd.xml testdata/scenarios/pcscd/*.toml

## test-arm: the portable packages' tests for linux/arm under qemu-arm-static
test-arm:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) test -count=1 -short -timeout 15m \
		-exec qemu-arm-static $(PORTABLE)

## bench: every benchmark, 5 runs each (feed the output to benchstat)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 60m ./...

## bench-sqlite: the sale's store work on the product's bbolt and on SQLite (WAL, synchronous=FULL) side by side, plain and under a 10 ms injected fsync latency; one table of medians and ratios (bench/sqlite/README.md; needs gcc and strace)
.PHONY: bench-sqlite
bench-sqlite:
	GO=$(GO) bench/sqlite/bench.sh $(CURDIR)/$(DIST)/bench-sqlite

## fuzz-smoke: each fuzz target for $(FUZZTIME)
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz-smoke

## perf: the real daemon against its budgets (1M-entry store, memory, start, tap-to-display through pcscd + vpcd), one table and dist/perf.json (docs/perf.md)
perf:
	GO=$(GO) DIST=$(DIST) ./scripts/perf

## lint: gofmt, go.mod tidy (go mod tidy -diff), go vet, staticcheck (pinned as a go tool)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

clean:
	rm -rf $(DIST)
