package terminal

import (
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
