package ledger

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// 延期 from the registry: `ledgerd account extend --file F`.

// Extension is one line of an extension file: account ID gets the
// validity end Until (YYYYMMDD).
type Extension struct {
	Line  int    `json:"line"`
	ID    string `json:"id"`
	Until string `json:"until"`
}

// ExtendReport counts what an extension file did.
type ExtendReport struct {
	// Extended: a valid-until write made pending (the end changes when the
	// card is written, at the holder's next tap); Replaced of them
	// replaced a pending write of another end.
	Extended int `json:"extended"`
	Replaced int `json:"replaced"`
	// Unchanged: the account has that end already, or a write of it waits.
	Unchanged int `json:"unchanged"`
	// NotFound are the ids of no account; Refused the cancelled accounts
	// ("ID: why").
	NotFound []string `json:"not_found,omitempty"`
	Refused  []string `json:"refused,omitempty"`
}

// MaxExtendFile bounds an extension file.
const MaxExtendFile = 16 << 20

// ParseExtensions reads an extension file: one `ID YYYYMMDD` a line
// (fields separated by spaces or tabs), blank lines and lines starting
// with # ignored. A malformed line refuses the whole file, the error
// naming its line (ErrInvalid); so does an id given twice.
func ParseExtensions(b []byte) ([]Extension, error) {
	if len(b) > MaxExtendFile {
		return nil, fmt.Errorf("ledger: extension file of %d bytes, at most %d: %w", len(b), MaxExtendFile, ErrInvalid)
	}
	var out []Extension
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 4096)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch {
		case len(f) != 2:
			return nil, fmt.Errorf("ledger: extension file line %d: want `ID YYYYMMDD`, got %d fields: %w", n, len(f), ErrInvalid)
		case !accounts.ValidID(f[0]):
			return nil, fmt.Errorf("ledger: extension file line %d: invalid account id %q: %w", n, printable(f[0], 40), ErrInvalid)
		case seen[f[0]] != 0:
			return nil, fmt.Errorf("ledger: extension file line %d: account %s given on line %d already: %w", n, f[0], seen[f[0]], ErrInvalid)
		}
		if _, err := accounts.ParseDate(f[1]); err != nil {
			return nil, fmt.Errorf("ledger: extension file line %d: %w: %w", n, ErrInvalid, err)
		}
		seen[f[0]] = n
		out = append(out, Extension{Line: n, ID: f[0], Until: f[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ledger: extension file line %d: %w: %w", n+1, ErrInvalid, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ledger: extension file: no `ID YYYYMMDD` line: %w", ErrInvalid)
	}
	return out, nil
}

// ExtendAccounts gives each account its new validity end as a pending
// valid-until card write (replacing one of another end): the account's
// end changes when the card is written (at a kiosk, desk or POS that
// completes the card's writes). All in one transaction: an end that is
// not a date, or is already past, refuses the whole list with its line
// (ErrInvalid) and nothing changes; an unknown account is counted in
// NotFound, a cancelled one in Refused, and the others are done.
func (l *Ledger) ExtendAccounts(ext []Extension) (ExtendReport, error) {
	now := l.now()
	var rep ExtendReport
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for _, e := range ext {
		end, err := accounts.ParseDate(e.Until)
		if err != nil || !accounts.ValidID(e.ID) {
			return ExtendReport{}, fmt.Errorf("ledger: extend: line %d: %w: %v", e.Line, ErrInvalid, err)
		}
		if today.After(end) {
			return ExtendReport{}, fmt.Errorf("ledger: extend: line %d: %s %s is past: %w", e.Line, e.ID, e.Until, ErrInvalid)
		}
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		rep = ExtendReport{}
		for _, e := range ext {
			a, err := getAccount(tx, e.ID)
			if err != nil {
				rep.NotFound = append(rep.NotFound, e.ID)
				continue
			}
			if a.State == accounts.Cancelled {
				rep.Refused = append(rep.Refused, e.ID+": cancelled")
				continue
			}
			old, err := pendingWriteOf(tx, a.Card, protocol.FieldValidUntil)
			if err != nil {
				return err
			}
			if (old == nil && a.ValidUntil == e.Until) || (old != nil && old.Values.ValidUntil == e.Until) {
				rep.Unchanged++
				continue
			}
			w := CardWrite{Card: a.Card, Account: a.ID, Field: protocol.FieldValidUntil, Trade: protocol.TradeExtend,
				Ref: fmt.Sprintf("extension line %d", e.Line), Values: protocol.CardValues{ValidUntil: e.Until}}
			if err := newWriteTx(tx, &w, true, now); err != nil {
				return err
			}
			rep.Extended++
			if old != nil {
				rep.Replaced++
			}
		}
		return nil
	})
	if err != nil {
		return ExtendReport{}, err
	}
	l.log.Info("accounts extended", "lines", len(ext), "extended", rep.Extended, "replaced", rep.Replaced,
		"unchanged", rep.Unchanged, "not_found", len(rep.NotFound), "refused", len(rep.Refused))
	return rep, nil
}

// ExtendAccounts gives accounts new validity ends as pending card writes
// (Ledger.ExtendAccounts).
func (c *AdminClient) ExtendAccounts(ext []Extension) (ExtendReport, error) {
	r, err := c.call("/admin/account/extend-file", adminReq{Extensions: ext})
	if r.ExtendReport == nil {
		return ExtendReport{}, err
	}
	return *r.ExtendReport, err
}

// serviceHandlers adds the operator operations of the services to the
// admin socket.
func serviceHandlers(l *Ledger, handle func(path string, f func(req adminReq) (adminResp, error))) {
	handle("/admin/account/extend-file", func(q adminReq) (adminResp, error) {
		r, err := l.ExtendAccounts(q.Extensions)
		return adminResp{ExtendReport: &r}, err
	})
}
