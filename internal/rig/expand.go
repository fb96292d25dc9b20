package rig

import (
	"fmt"
	"regexp"
)

var placeholderRE = regexp.MustCompile(`\{([a-z]+)\.([A-Za-z0-9_-]+)\}`)

// expand replaces the placeholders of s: {card.NAME} (its number),
// {device.NAME} (its id), {token.NAME} (the token issued to it) and
// {ledger.data} (the ledger's data directory).
func (r *scenarioRun) expand(s string) (string, error) {
	var err error
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		p := placeholderRE.FindStringSubmatch(m)
		what, name := p[1], p[2]
		switch what {
		case "card":
			if no, ok := r.cardNos[name]; ok {
				return no
			}
		case "device":
			if d, ok := r.devices[name]; ok {
				return d.spec.ID
			}
			for _, d := range r.sc.Devices {
				if d.Name == name {
					return d.ID
				}
			}
		case "token":
			if t, ok := r.tokens[name]; ok {
				return t
			}
		case "ledger":
			if name == "data" && r.ledger != nil {
				return r.ledger.dir
			}
		}
		if err == nil {
			err = fmt.Errorf("rig: placeholder %s: no such %s", m, what)
		}
		return m
	})
	return out, err
}

// expandAny expands the strings inside a decoded TOML value.
func (r *scenarioRun) expandAny(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return r.expand(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ek, err := r.expand(k)
			if err != nil {
				return nil, err
			}
			if out[ek], err = r.expandAny(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = r.expandAny(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = r.expandAny(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}
