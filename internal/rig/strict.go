package rig

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLine finds the line (from 1) where key k, as toml.MetaData.Undecoded
// names it (array indices left out), is defined in src; 0 when it cannot
// tell. It follows table headers ([a], [[a.b]]), dotted keys (a.b = 1) and
// inline tables on one line (a = { b = 1 }), which is how scenario files
// are written; failing that, it takes the first line defining the key's
// last name.
func keyLine(src []byte, k toml.Key) int {
	want := strings.Join(k, ".")
	var table []string
	lines := bytes.Split(src, []byte("\n"))
	for i, raw := range lines {
		line := strings.TrimSpace(stripComment(string(raw)))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			name := strings.Trim(line, "[] \t")
			table = splitKey(name)
			if strings.Join(table, ".") == want {
				return i + 1
			}
			continue
		}
		for _, p := range lineKeys(line) {
			if strings.Join(append(append([]string{}, table...), p...), ".") == want {
				return i + 1
			}
		}
	}
	last := regexp.MustCompile(`(^|[\s{,.])"?` + regexp.QuoteMeta(k[len(k)-1]) + `"?\s*=`)
	for i, raw := range lines {
		if last.MatchString(stripComment(string(raw))) {
			return i + 1
		}
	}
	return 0
}

// lineKeys lists the key paths a key/value line defines (relative to its
// table): the dotted key before '=' and the keys of inline tables after it.
func lineKeys(line string) [][]string {
	var out [][]string
	var walk func(prefix []string, s string) string
	// walk reads "k = v, k2 = { ... }, ..." up to an unmatched '}' and
	// returns the rest.
	walk = func(prefix []string, s string) string {
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" || s[0] == '}' {
				if s != "" {
					s = s[1:]
				}
				return s
			}
			eq := strings.IndexByte(s, '=')
			if eq < 0 {
				return ""
			}
			key := append(append([]string{}, prefix...), splitKey(strings.TrimSpace(s[:eq]))...)
			out = append(out, key)
			s = strings.TrimLeft(s[eq+1:], " \t")
			if strings.HasPrefix(s, "{") {
				s = walk(key, s[1:])
				continue
			}
			s = skipValue(s)
		}
	}
	walk(nil, line)
	return out
}

// skipValue skips one simple value (string, array, number, bool) and
// returns what follows it.
func skipValue(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if c == '"' && s[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth == 0 {
				return s[i:]
			}
			depth--
		case c == ',' && depth == 0:
			return s[i:]
		}
	}
	return ""
}

// splitKey splits a dotted key, with quoted parts unquoted.
func splitKey(k string) []string {
	var out []string
	for _, p := range strings.Split(k, ".") {
		out = append(out, strings.Trim(strings.TrimSpace(p), `"'`))
	}
	return out
}

// stripComment drops a # comment that is outside strings.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0 && c == '\\' && q == '"':
			i++
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case q == 0 && c == '#':
			return s[:i]
		}
	}
	return s
}
