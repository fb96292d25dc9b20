package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// MaxRulesFile bounds a rules JSON file.
const MaxRulesFile = 1 << 20

// ParseRules parses an operator's rules file: one JSON object with the json
// names of protocol.Rules ("pin_limit_fen", "prices", "groups", ...).
// Unknown fields, trailing data, oversize input and values out of range are
// refused (ErrInvalid); "version" and "issued" are ignored — SetRules
// assigns them.
func ParseRules(b []byte) (protocol.Rules, error) {
	if len(b) > MaxRulesFile {
		return protocol.Rules{}, fmt.Errorf("ledger: rules: %d bytes, limit %d: %w", len(b), MaxRulesFile, ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r protocol.Rules
	if err := dec.Decode(&r); err != nil {
		return protocol.Rules{}, fmt.Errorf("ledger: rules: %w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return protocol.Rules{}, fmt.Errorf("ledger: rules: trailing data after the JSON object: %w", ErrInvalid)
	}
	r.Version, r.Issued = 0, 0
	if err := ValidateRules(&r); err != nil {
		return protocol.Rules{}, err
	}
	return r, nil
}

// ValidateRules checks the ranges of a rules set: amounts non-negative,
// minutes 0..1440 with start before end, weekday masks of 7 bits, dates
// YYYY-MM-DD, references to known profiles, QR issuer keys of a registered
// suite (Ed25519: 32 bytes), and the bounds of the protocol's Rules message.
func ValidateRules(r *protocol.Rules) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("ledger: rules: "+format+": %w", append(args, ErrInvalid)...)
	}
	if r.PINLimitFen < 0 || r.DailyLimitFen < 0 || r.MinBalanceFen < 0 {
		return bad("negative limit")
	}
	for k, v := range r.Prices {
		if v < 0 || k == "" {
			return bad("price %q: %d", k, v)
		}
	}
	for _, c := range r.Classes {
		if c.SurchargeFen < 0 || c.Percent > 1000 {
			return bad("class %d: percent %d surcharge %d", c.Class, c.Percent, c.SurchargeFen)
		}
	}
	for _, m := range r.Meals {
		if m.Name == "" || m.Start >= m.End || m.End > 1440 {
			return bad("meal %q: %d..%d", m.Name, m.Start, m.End)
		}
	}
	profiles := map[string]bool{}
	for _, p := range r.Profiles {
		if p.ID == "" || profiles[p.ID] {
			return bad("time profile %q empty or twice", p.ID)
		}
		profiles[p.ID] = true
		for _, w := range p.Windows {
			if w.Days >= 1<<7 || w.Start >= w.End || w.End > 1440 {
				return bad("time profile %q: window days %#x %d..%d", p.ID, w.Days, w.Start, w.End)
			}
		}
	}
	for _, g := range r.Groups {
		if g.ID == "" || !profiles[g.Profile] {
			return bad("group %q: unknown profile %q", g.ID, g.Profile)
		}
	}
	for _, h := range r.Holidays {
		if _, err := time.Parse(time.DateOnly, h.Date); err != nil {
			return bad("holiday date %q", h.Date)
		}
		if h.Profile != "" && !profiles[h.Profile] {
			return bad("holiday %s: unknown profile %q", h.Date, h.Profile)
		}
	}
	for _, d := range r.Doors {
		if d.ID == "" {
			return bad("door without id")
		}
	}
	for _, k := range r.QRIssuers {
		if _, err := protocol.LookupSuite(k.Alg); err != nil {
			return bad("QR issuer key %q: algorithm %d is not a registered signature suite", k.KeyID, k.Alg)
		}
		if k.Alg == protocol.AlgEd25519 && len(k.Key) != 32 {
			return bad("QR issuer key %q: Ed25519 key of %d bytes, want 32", k.KeyID, len(k.Key))
		}
	}
	// What is stored must be servable: the message's own rules and bounds.
	probe := *r
	if probe.Version == 0 {
		probe.Version = 1
	}
	if _, err := probe.Encode(); err != nil {
		return bad("%v", err)
	}
	return nil
}

// SetRules stores r as the next rules version (Version and Issued set by
// the ledger) and returns it.
func (l *Ledger) SetRules(r protocol.Rules) (protocol.Rules, error) {
	if err := ValidateRules(&r); err != nil {
		return protocol.Rules{}, err
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		v, err := nextSeq(tx, keyRulesVersion)
		if err != nil {
			return err
		}
		r.Version, r.Issued = v, l.now().UnixMilli()
		return putJSON(tx.Bucket(bucketRules), be64(v), r)
	})
	if err != nil {
		return protocol.Rules{}, err
	}
	l.log.Info("rules set", "version", r.Version)
	return r, nil
}

// Rules returns the current rules for a device holding version have;
// current is false when have is already the current version (nothing to
// send). have beyond the current version is ErrStaleVersion; no rules at all
// is ErrNotFound.
func (l *Ledger) Rules(have uint64) (r protocol.Rules, current bool, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		cur := getU64(tx.Bucket(bucketMeta), keyRulesVersion)
		switch {
		case have > cur:
			return fmt.Errorf("ledger: rules: device holds version %d, the ledger is at %d: %w", have, cur, ErrStaleVersion)
		case cur == 0:
			return fmt.Errorf("ledger: rules: none set: %w", ErrNotFound)
		case have == cur:
			current = true
			return nil
		}
		return getJSON(tx.Bucket(bucketRules), be64(cur), &r)
	})
	return r, current, err
}
