//go:build tools

// Package packaging pins the Debian packager (nfpm) in its own module so
// that it stays out of the daemon's go.mod: `make deb` runs it with
// `go run -modfile` from this directory.
package packaging

import _ "github.com/goreleaser/nfpm/v2/cmd/nfpm"
