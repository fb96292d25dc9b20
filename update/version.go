package update

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Version is a release version: dotted numbers with an optional "v" before
// and an optional pre-release after a '-' ("1.4.2", "v1.5.0-rc.1").
type Version struct {
	Nums []uint64
	Pre  string
}

// maxVersionLen bounds a version string.
const maxVersionLen = 64

// ParseVersion parses s, refusing anything but 1 to 4 dotted numbers and
// an optional pre-release of letters, digits, '.' and '-'.
func ParseVersion(s string) (Version, error) {
	if len(s) == 0 || len(s) > maxVersionLen {
		return Version{}, fmt.Errorf("update: version %q: empty or too long", s)
	}
	core := strings.TrimPrefix(s, "v")
	var v Version
	if i := strings.IndexByte(core, '-'); i >= 0 {
		core, v.Pre = core[:i], core[i+1:]
		if v.Pre == "" {
			return Version{}, fmt.Errorf("update: version %q: empty pre-release", s)
		}
		for _, c := range v.Pre {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
				return Version{}, fmt.Errorf("update: version %q: bad pre-release", s)
			}
		}
	}
	parts := strings.Split(core, ".")
	if len(parts) > 4 {
		return Version{}, fmt.Errorf("update: version %q: more than 4 numbers", s)
	}
	for _, p := range parts {
		if p == "" || len(p) > 1 && p[0] == '0' {
			return Version{}, fmt.Errorf("update: version %q: bad number %q", s, p)
		}
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return Version{}, fmt.Errorf("update: version %q: %w", s, err)
		}
		v.Nums = append(v.Nums, n)
	}
	return v, nil
}

// RunningVersion parses the version a binary was stamped with; an
// unstamped build ("dev", or anything that does not parse) is version 0,
// older than every release.
func RunningVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		return Version{Nums: []uint64{0}}
	}
	return v
}

// Compare returns -1, 0 or +1 as v is older than, the same as or newer
// than w. Missing numbers count as 0; a pre-release is older than the same
// numbers without one, and pre-releases compare as strings.
func (v Version) Compare(w Version) int {
	for i := 0; i < max(len(v.Nums), len(w.Nums)); i++ {
		var a, b uint64
		if i < len(v.Nums) {
			a = v.Nums[i]
		}
		if i < len(w.Nums) {
			b = w.Nums[i]
		}
		if c := cmp.Compare(a, b); c != 0 {
			return c
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	return cmp.Compare(v.Pre, w.Pre)
}

// String formats v without the "v".
func (v Version) String() string {
	var b strings.Builder
	for i, n := range v.Nums {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(n, 10))
	}
	if v.Pre != "" {
		b.WriteString("-" + v.Pre)
	}
	return b.String()
}
