#!/bin/sh
# make deb: Debian packages of yktd, one per architecture, in $DIST/deb.
# The packager is nfpm, pinned in packaging/go.mod (a module of its own, so
# it stays out of the daemon's go.mod) and built from the module cache.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIST=${DIST:-dist}
ARCHES=${DEB_ARCHES:-amd64 arm64 armhf}
LDFLAGS=${LDFLAGS:--s -w}
mkdir -p "$DIST/deb"
out=$(cd "$DIST/deb" && pwd)

# A Debian version starts with a digit: v1.2.3 -> 1.2.3, a bare commit ->
# 0.0~git<commit>.
v=${DEB_VERSION:-$(git describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || true)}
case "$v" in
[0-9]*) ;;
*) v="0.0~git${v:-dev}" ;;
esac

"$GO" build -C packaging -o "$out/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm
for a in $ARCHES; do
	case "$a" in
	amd64 | arm64) goarch=$a ;;
	armhf) goarch=arm ;;
	*) echo "deb: architecture $a: want amd64, arm64 or armhf" >&2; exit 2 ;;
	esac
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=7 \
		"$GO" build -trimpath -ldflags "$LDFLAGS" -o "$out/yktd-$a" ./cmd/yktd
	# nfpm expands the environment in arch and version, not in a source path.
	sed "s|\${BIN}|$out/yktd-$a|" packaging/nfpm.yaml >"$out/nfpm-$a.yaml"
	ARCH=$a VERSION=$v "$out/nfpm" package --config "$out/nfpm-$a.yaml" --packager deb --target "$out/"
done
ls -l "$out"/*.deb
