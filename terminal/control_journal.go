package terminal

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/openykt/yktd/protocol"
)

// JournalEntry is one journal record as GET /v1/journal reports it: the
// record (protocol.Record's JSON form), its kind's stable name, its time
// and the hex SHA-256 the next record links to.
type JournalEntry struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Kind   string          `json:"kind"`
	Hash   string          `json:"hash"`
	Record protocol.Record `json:"record"`
}

// Bounds of GET /v1/journal's ?limit.
const (
	journalPageDefault = 100
	journalPageMax     = 1000
)

// serveJournal answers GET /v1/journal?after=N&limit=M: the records above
// sequence N (default 0), at most M (default 100, at most 1000), read in
// one read-only transaction of the store the daemon holds. It is for the
// rig and a technician's tools beside a running daemon; the journal names
// cards and amounts, so it needs the credential.
func (d *Daemon) serveJournal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, ok := queryUint(q, "after", 0)
	if !ok {
		writeError(w, http.StatusBadRequest, CtlBadRequest, "after: want one sequence number")
		return
	}
	limit, ok := queryUint(q, "limit", journalPageDefault)
	if !ok || limit == 0 || limit > journalPageMax {
		writeError(w, http.StatusBadRequest, CtlBadRequest, "limit: want one number from 1 to "+strconv.Itoa(journalPageMax))
		return
	}
	es, err := d.deps.Store.Records(after, int(limit))
	if err != nil {
		d.log.Error("control: journal read", "err", err)
		writeError(w, http.StatusInternalServerError, CtlStoreFault, "the store failed; see the log")
		return
	}
	out := make([]JournalEntry, 0, len(es))
	for _, e := range es {
		out = append(out, JournalEntry{Seq: e.Record.Seq, Time: e.Record.WallTime(), Kind: e.Record.Kind.String(),
			Hash: hex.EncodeToString(e.Hash[:]), Record: e.Record})
	}
	writeJSON(w, http.StatusOK, out)
}

// queryUint reads the query parameter name: absent is def; present, it
// must be given once and be a decimal number.
func queryUint(q url.Values, name string, def uint64) (uint64, bool) {
	vs, ok := q[name]
	if !ok {
		return def, true
	}
	if len(vs) != 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(vs[0], 10, 64)
	return n, err == nil
}
