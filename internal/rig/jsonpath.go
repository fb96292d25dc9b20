package rig

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// A path selects a value in a JSON document (the ledger's report, its
// device list, a health answer): names separated by dots, each optionally
// followed by [N] (an array index) or [field=value] (the array element
// whose field has that value); a path may begin with a selector when the
// document is an array. "devices[id=RIG-POS].stats.debit_count".
// Placeholders ({device.pos}) are replaced before a path is parsed.
type pathSeg struct {
	name  string // "" for a selector on the document itself
	index int    // -1: none
	field string // [field=value]
	value string
}

var errPath = errors.New("rig: path")

// parsePath splits a path into segments. Dots inside {} or [] do not
// split (a placeholder or a selector's value may hold one).
func parsePath(p string) ([]pathSeg, error) {
	if p == "" {
		return nil, fmt.Errorf("%w: empty", errPath)
	}
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("%w %q: unbalanced %c", errPath, p, p[i])
			}
		case '.':
			if depth == 0 {
				parts = append(parts, p[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w %q: unbalanced brackets", errPath, p)
	}
	parts = append(parts, p[start:])
	var out []pathSeg
	for _, part := range parts {
		if part == "" {
			return nil, fmt.Errorf("%w %q: empty segment", errPath, p)
		}
		for part != "" {
			seg := pathSeg{index: -1}
			br := strings.IndexByte(part, '[')
			if br < 0 {
				seg.name, part = part, ""
			} else {
				seg.name = part[:br]
				end := strings.IndexByte(part[br:], ']')
				if end < 0 {
					return nil, fmt.Errorf("%w %q: [ without ]", errPath, p)
				}
				sel := part[br+1 : br+end]
				part = part[br+end+1:]
				if f, v, ok := strings.Cut(sel, "="); ok {
					if f == "" {
						return nil, fmt.Errorf("%w %q: selector [%s] without a field", errPath, p, sel)
					}
					seg.field, seg.value = f, v
				} else if n, err := strconv.Atoi(sel); err == nil && n >= 0 {
					seg.index = n
				} else {
					return nil, fmt.Errorf("%w %q: selector [%s]: want [N] or [field=value]", errPath, p, sel)
				}
				if part != "" && part[0] != '[' {
					return nil, fmt.Errorf("%w %q: a selector ends a segment", errPath, p)
				}
			}
			if seg.name == "" && seg.index < 0 && seg.field == "" {
				return nil, fmt.Errorf("%w %q: empty segment", errPath, p)
			}
			out = append(out, seg) // name[a][b]: the next selector applies to what [a] selected
		}
	}
	return out, nil
}

// lookup selects the path in doc (decoded with UseNumber); ok is false
// when something on the way is missing.
func lookup(doc any, segs []pathSeg) (any, bool) {
	cur := doc
	for _, s := range segs {
		if s.name != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[s.name]; !ok {
				return nil, false
			}
		}
		if s.index >= 0 {
			a, ok := cur.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			cur = a[s.index]
		}
		if s.field != "" {
			a, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			found := false
			for _, e := range a {
				if m, ok := e.(map[string]any); ok && scalarString(m[s.field]) == s.value {
					cur, found = e, true
					break
				}
			}
			if !found {
				return nil, false
			}
		}
	}
	return cur, true
}

// scalarString renders a JSON scalar for comparison with a selector or a
// wanted string.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Wanted values: a TOML number, string or boolean is compared for
// equality; these strings test instead.
const (
	wantAbsent  = "absent"  // the path selects nothing
	wantPresent = "present" // the path selects something
)

// comparisons are the operators a wanted string may start with.
var comparisons = []string{">=", "<=", "!=", ">", "<"}

// checkWant validates a wanted value of a path expectation.
func checkWant(w any) error {
	switch x := w.(type) {
	case int64, float64, bool:
		return nil
	case string:
		for _, op := range comparisons {
			if rest, ok := strings.CutPrefix(x, op); ok {
				if op != "!=" {
					if _, ok := new(big.Rat).SetString(strings.TrimSpace(rest)); !ok {
						return fmt.Errorf("%q: %s wants a number", x, op)
					}
				}
				return nil
			}
		}
		return nil
	}
	return fmt.Errorf("want a number, a string or a boolean, got %T", w)
}

// matchWant checks the selected value (ok: the path selected one)
// against want; it returns "" on a match, else what was found.
func matchWant(got any, ok bool, want any) (string, bool) {
	found := "nothing"
	if ok {
		found = scalarString(got)
	}
	if s, isStr := want.(string); isStr {
		switch s {
		case wantAbsent:
			return found, !ok
		case wantPresent:
			return found, ok
		}
		for _, op := range comparisons {
			rest, has := strings.CutPrefix(s, op)
			if !has {
				continue
			}
			rest = strings.TrimSpace(rest)
			if op == "!=" {
				return found, ok && found != rest
			}
			if !ok {
				return found, false
			}
			a, aok := new(big.Rat).SetString(found)
			b, _ := new(big.Rat).SetString(rest)
			if !aok {
				return found, false
			}
			c := a.Cmp(b)
			switch op {
			case ">=":
				return found, c >= 0
			case "<=":
				return found, c <= 0
			case ">":
				return found, c > 0
			case "<":
				return found, c < 0
			}
		}
		return found, ok && found == s
	}
	if !ok {
		return found, false
	}
	switch x := want.(type) {
	case bool:
		b, isBool := got.(bool)
		return found, isBool && b == x
	case int64:
		n, isNum := got.(json.Number)
		if !isNum {
			return found, false
		}
		a, aok := new(big.Rat).SetString(n.String())
		return found, aok && a.Cmp(new(big.Rat).SetInt64(x)) == 0
	case float64:
		n, isNum := got.(json.Number)
		f, err := n.Float64()
		return found, isNum && err == nil && f == x
	}
	return found, false
}

// decodeJSON decodes a document for lookup, numbers kept exact.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("rig: JSON: %w", err)
	}
	return v, nil
}
