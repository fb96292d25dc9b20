package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// The one language of the journal and status tools: times in RFC 3339
// with milliseconds and the offset of one zone, named in the output (a
// header line, or a "zone" field); byte fields (hashes, cryptograms,
// terminal id, card serial, digest, and the BCD tx_time, whose hex reads
// as its digits) in lower-case hex; amounts in yuan for people (tail) and
// in fen in JSON; field names those of the JSON export in both.

// defaultZone is the zone the tools write times in unless --zone says
// otherwise: the device's default (device.timezone), in which card
// dates, meal periods and time profiles are read.
const defaultZone = "Asia/Shanghai"

// timeLayout is RFC 3339 with milliseconds, the journal's precision.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// zoneFlag adds --zone to fs.
func zoneFlag(fs *flag.FlagSet) *string {
	return fs.String("zone", defaultZone, "time zone of the times written (IANA name, UTC, or Local for this machine's)")
}

// zone is where times are written, and its name.
type zone struct {
	loc  *time.Location
	name string
}

// loadZone resolves --zone; an unknown zone is a usage error.
func loadZone(name string) (zone, error) {
	if name == "Local" {
		return zone{time.Local, localZoneName()}, nil
	}
	if name == "" {
		return zone{}, usageError("--zone needs a time zone (e.g. %s, UTC, Local)", defaultZone)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return zone{}, usageError("--zone %q: %v (e.g. %s, UTC, Local)", name, err, defaultZone)
	}
	return zone{loc, loc.String()}, nil
}

// localZoneName names this machine's zone: $TZ, else the zone
// /etc/localtime links to, else "Local".
func localZoneName() string {
	if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); tz != "" {
		return tz
	}
	if p, err := filepath.EvalSymlinks("/etc/localtime"); err == nil {
		if _, after, ok := strings.Cut(p, "zoneinfo/"); ok {
			return after
		}
	}
	return "Local"
}

// format writes t in the zone.
func (z zone) format(t time.Time) string { return t.In(z.loc).Format(timeLayout) }

// formatMillis writes a record time, Unix ms, in the zone.
func (z zone) formatMillis(ms int64) string { return z.format(time.UnixMilli(ms)) }

// tailHeader is the first line of `journal tail`: what the lines are of,
// and the zone of their times.
func tailHeader(s *offline.Store, es []offline.Entry, head uint64, z zone) string {
	what := "no records"
	if len(es) > 0 {
		what = fmt.Sprintf("records %d..%d of head %d", es[0].Record.Seq, es[len(es)-1].Record.Seq, head)
	}
	return fmt.Sprintf("# device %s, epoch %d, %s; times in %s", s.DeviceID(), s.Epoch(), what, z.name)
}

// formatRecord renders a record as one line for people, its fields named
// as in the JSON export.
func formatRecord(r *protocol.Record, z zone) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%8d  %s  %-19s", r.Seq, z.formatMillis(r.Time), r.Kind)
	field := func(name string, v any) { fmt.Fprintf(&b, " %s=%v", name, v) }
	hexField := func(name string, v []byte) {
		if len(v) > 0 {
			field(name, hex.EncodeToString(v))
		}
	}
	if r.IntentID != 0 {
		field("intent_id", r.IntentID)
	}
	if r.CardNo != "" {
		field("card_no", r.CardNo)
	}
	if r.Amount != 0 {
		field("amount", yuan(r.Amount))
	}
	switch {
	case r.Kind == protocol.KindPurchaseCompleted || r.Kind == protocol.KindLoad:
		// What the card's balance was and became.
		field("balance", yuan(r.BalanceBefore)+"→"+yuan(r.BalanceAfter))
	case r.BalanceBefore != 0:
		// An intent, a refusal, an outcome not known: the card showed it.
		field("balance_before", yuan(r.BalanceBefore))
	}
	if r.CardCounter != 0 {
		field("card_counter", r.CardCounter)
	}
	hexField("terminal_id", r.TerminalID)
	if r.TerminalSeq != 0 {
		field("terminal_seq", r.TerminalSeq)
	}
	hexField("tx_time", r.TxTime)
	hexField("card_serial", r.CardSerial)
	hexField("mac1", r.MAC1)
	hexField("tac", r.TAC)
	hexField("mac2", r.MAC2)
	if r.Reason != "" {
		field("reason", r.Reason)
	}
	if r.Credential != "" {
		field("credential", r.Credential)
	}
	if r.OldTime != 0 {
		field("old_time", z.formatMillis(r.OldTime))
	}
	if r.Version != 0 {
		field("version", r.Version)
	}
	hexField("digest", r.Digest)
	return b.String()
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// jsonRecord is one line of `journal export --format json`: the record
// with the store's device and epoch (a record is named by device, epoch
// and sequence), its time in the zone named, its kind by number and name,
// its hash and every byte field in lower-case hex, amounts in fen. A zero
// field is left out, as in the record's CBOR.
type jsonRecord struct {
	Device   string `json:"device"`
	Epoch    uint64 `json:"epoch"`
	Seq      uint64 `json:"seq"`
	Time     string `json:"time"`
	Zone     string `json:"zone"`
	Kind     uint8  `json:"kind"`
	KindName string `json:"kind_name"`
	Hash     string `json:"hash"`
	Prev     string `json:"prev"`

	IntentID      uint64 `json:"intent_id,omitempty"`
	CardNo        string `json:"card_no,omitempty"`
	Amount        int64  `json:"amount,omitempty"`
	BalanceBefore int64  `json:"balance_before,omitempty"`
	BalanceAfter  int64  `json:"balance_after,omitempty"`
	CardCounter   uint32 `json:"card_counter,omitempty"`
	TerminalSeq   uint32 `json:"terminal_seq,omitempty"`
	TerminalID    string `json:"terminal_id,omitempty"`
	TAC           string `json:"tac,omitempty"`
	MAC2          string `json:"mac2,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Credential    string `json:"credential,omitempty"`
	OldTime       string `json:"old_time,omitempty"`
	Version       uint64 `json:"version,omitempty"`
	Digest        string `json:"digest,omitempty"`
	TxTime        string `json:"tx_time,omitempty"`
	CardSerial    string `json:"card_serial,omitempty"`
	KeyIndex      uint8  `json:"key_index,omitempty"`
	KeyVersion    uint8  `json:"key_version,omitempty"`
	Algorithm     uint8  `json:"algorithm,omitempty"`
	MAC1          string `json:"mac1,omitempty"`
}

// newJSONRecord is e of the store s as a JSON line's value.
func newJSONRecord(s *offline.Store, e *offline.Entry, z zone) jsonRecord {
	r := &e.Record
	j := jsonRecord{
		Device: s.DeviceID(), Epoch: s.Epoch(), Seq: r.Seq, Time: z.formatMillis(r.Time), Zone: z.name,
		Kind: uint8(r.Kind), KindName: r.Kind.String(), Hash: hex.EncodeToString(e.Hash[:]), Prev: hex.EncodeToString(r.Prev),
		IntentID: r.IntentID, CardNo: r.CardNo, Amount: r.Amount, BalanceBefore: r.BalanceBefore, BalanceAfter: r.BalanceAfter,
		CardCounter: r.CardCounter, TerminalSeq: r.TerminalSeq, TerminalID: hex.EncodeToString(r.TerminalID),
		TAC: hex.EncodeToString(r.TAC), MAC2: hex.EncodeToString(r.MAC2), Reason: r.Reason, Credential: r.Credential,
		Version: r.Version, Digest: hex.EncodeToString(r.Digest), TxTime: hex.EncodeToString(r.TxTime),
		CardSerial: hex.EncodeToString(r.CardSerial), KeyIndex: r.KeyIndex, KeyVersion: r.KeyVersion,
		Algorithm: r.Algorithm, MAC1: hex.EncodeToString(r.MAC1),
	}
	if r.OldTime != 0 {
		j.OldTime = z.formatMillis(r.OldTime)
	}
	return j
}
