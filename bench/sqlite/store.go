package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	// The C SQLite (cgo), as a competitor would ship it.
	_ "github.com/mattn/go-sqlite3"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// Errors of Store. Callers decide with errors.Is.
var (
	// ErrNotFound: no such intent (never opened, or already completed).
	ErrNotFound = errors.New("not found")
	// ErrCorrupt: the journal's chain is broken or a stored record does
	// not decode.
	ErrCorrupt = errors.New("store corrupt")
	// ErrSettings: SQLite did not take WAL mode and synchronous=FULL, so
	// the store would not be the durable one this benchmark claims.
	ErrSettings = errors.New("durability settings not in force")
)

// stateOpen is the state of an intent not yet resolved, as in offline.
const stateOpen = int64(offline.IntentOpen)

// schema is the competitor's layout: the journal keyed by sequence with the
// hash of each record beside it (the head is the last row), and the open
// intents keyed by the sequence of their intent record.
const schema = `
CREATE TABLE IF NOT EXISTS journal (
	seq    INTEGER PRIMARY KEY,
	hash   BLOB NOT NULL,
	record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
	id     INTEGER PRIMARY KEY,
	state  INTEGER NOT NULL,
	record BLOB NOT NULL
);`

// Store is the sale's store work on SQLite in WAL mode with
// synchronous=FULL: every commit is durable (the WAL is synced) before it
// returns. It is for one goroutine at a time, like a terminal's sale.
type Store struct {
	db      *sql.DB
	path    string
	genesis [protocol.HashSize]byte

	head, putJournal, putIntent, getIntent, delIntent *sql.Stmt
}

// Open opens or creates the SQLite store at path for device deviceID (the
// journal's genesis value is protocol.GenesisHash(deviceID), as in the
// product). It fails with ErrSettings when SQLite does not run in WAL mode
// with synchronous=FULL.
func Open(path, deviceID string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %s: a path with ? or # is not supported", path)
	}
	// _txlock=immediate: database/sql's Begin issues BEGIN IMMEDIATE, the
	// write lock taken at the start of the transaction.
	dsn := path + "?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_busy_timeout=5000"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection: the prepared statements stay prepared on it, and the
	// pragmas above hold for every transaction.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, genesis: protocol.GenesisHash(deviceID)}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init() error {
	if _, err := s.db.Exec(schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	mode, sync, err := s.Settings()
	if err != nil {
		return err
	}
	if mode != "wal" || sync != 2 {
		return fmt.Errorf("journal_mode=%s synchronous=%d, want wal and 2 (FULL): %w", mode, sync, ErrSettings)
	}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&s.head, "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1"},
		{&s.putJournal, "INSERT INTO journal (seq, hash, record) VALUES (?, ?, ?)"},
		{&s.putIntent, "INSERT INTO intents (id, state, record) VALUES (?, ?, ?)"},
		{&s.getIntent, "SELECT state, record FROM intents WHERE id = ?"},
		{&s.delIntent, "DELETE FROM intents WHERE id = ?"},
	} {
		st, err := s.db.Prepare(p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.st = st
	}
	return nil
}

// Settings returns the journal mode and the synchronous level (2 is FULL)
// in force on the store's connection.
func (s *Store) Settings() (journalMode string, synchronous int, err error) {
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&journalMode); err != nil {
		return "", 0, fmt.Errorf("journal mode: %w", err)
	}
	if err := s.db.QueryRow("PRAGMA synchronous").Scan(&synchronous); err != nil {
		return "", 0, fmt.Errorf("synchronous: %w", err)
	}
	return journalMode, synchronous, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the statements and the database.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.head, s.putJournal, s.putIntent, s.getIntent, s.delIntent} {
		if st != nil {
			st.Close()
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// OpenIntent journals a purchase intent and stores it as open in one
// committed transaction (the step before DEBIT), like
// offline.Store.OpenIntent. It returns the intent's id, the sequence of its
// journal record.
func (s *Store) OpenIntent(p offline.PurchaseIntent) (uint64, error) {
	r := protocol.Record{
		Kind: protocol.KindPurchaseIntent, CardNo: p.CardNo, Amount: p.Amount,
		BalanceBefore: p.BalanceBefore, CardCounter: p.CardCounter,
		TerminalID: p.TerminalID, TerminalSeq: p.TerminalSeq,
		TxTime: p.TxTime, CardSerial: p.CardSerial,
		KeyIndex: p.KeyIndex, KeyVersion: p.KeyVersion, Algorithm: p.Algorithm, MAC1: p.MAC1,
	}
	if r.CardNo == "" || r.Amount <= 0 {
		return 0, fmt.Errorf("sqlite: open intent: card number and a positive amount needed")
	}
	var id uint64
	err := s.write("open intent", func(tx *sql.Tx) error {
		seq, raw, err := s.appendTx(tx, r)
		if err != nil {
			return err
		}
		if _, err := tx.Stmt(s.putIntent).Exec(int64(seq), stateOpen, raw); err != nil {
			return fmt.Errorf("store intent %d: %w", seq, err)
		}
		id = seq
		return nil
	})
	return id, err
}

// CompleteIntent journals the completion of intent id and removes the
// intent in one committed transaction, like offline.Store.CompleteIntent.
// It returns the completion record's sequence, or ErrNotFound.
func (s *Store) CompleteIntent(id uint64, c offline.Completion) (uint64, error) {
	switch {
	case c.BalanceAfter < 0:
		return 0, fmt.Errorf("sqlite: complete intent %d: negative balance", id)
	case !c.ByLog && (len(c.TAC) != protocol.CryptogramSize || len(c.MAC2) != protocol.CryptogramSize):
		return 0, fmt.Errorf("sqlite: complete intent %d: 4-byte TAC and MAC2 needed", id)
	}
	var seq uint64
	err := s.write(fmt.Sprintf("complete intent %d", id), func(tx *sql.Tx) error {
		var state int64
		var raw []byte
		err := tx.Stmt(s.getIntent).QueryRow(int64(id)).Scan(&state, &raw)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read intent: %w", err)
		}
		in, err := protocol.DecodeRecord(raw)
		if err != nil || in.Kind != protocol.KindPurchaseIntent || in.Seq != id {
			return fmt.Errorf("intent record: %w (%v)", ErrCorrupt, err)
		}
		// The completion repeats all of the intent's fields (the ledger
		// checks the TAC from one record), as offline's intentRecord does.
		r := in
		r.Kind, r.IntentID, r.BalanceAfter = protocol.KindPurchaseCompleted, id, c.BalanceAfter
		if c.ByLog {
			r.Reason = offline.ReasonCardLog
		} else {
			r.TAC, r.MAC2 = c.TAC, c.MAC2
		}
		if seq, _, err = s.appendTx(tx, r); err != nil {
			return err
		}
		res, err := tx.Stmt(s.delIntent).Exec(int64(id))
		if err != nil {
			return fmt.Errorf("remove intent: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("remove intent: %d rows (%v)", n, err)
		}
		return nil
	})
	return seq, err
}

// write runs fn in one BEGIN IMMEDIATE … COMMIT transaction, rolled back if
// fn fails.
func (s *Store) write(op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", op, err)
	}
	return nil
}

// appendTx appends r to the journal inside tx: the next sequence, the wall
// time and the hash of the last record (or the genesis value) as its link.
// It returns the sequence and the record's bytes.
func (s *Store) appendTx(tx *sql.Tx, r protocol.Record) (uint64, []byte, error) {
	var last int64
	prev := s.genesis[:]
	switch err := tx.Stmt(s.head).QueryRow().Scan(&last, &prev); {
	case errors.Is(err, sql.ErrNoRows):
		last, prev = 0, s.genesis[:]
	case err != nil:
		return 0, nil, fmt.Errorf("journal head: %w", err)
	case len(prev) != protocol.HashSize:
		return 0, nil, fmt.Errorf("journal head %d: hash of %d bytes: %w", last, len(prev), ErrCorrupt)
	}
	r.Seq, r.Time, r.Prev = uint64(last)+1, time.Now().UnixMilli(), prev
	raw, err := protocol.EncodeRecord(&r)
	if err != nil {
		return 0, nil, fmt.Errorf("journal append: %w", err)
	}
	h := protocol.RecordHash(raw)
	if _, err := tx.Stmt(s.putJournal).Exec(int64(r.Seq), h[:], raw); err != nil {
		return 0, nil, fmt.Errorf("journal append: %w", err)
	}
	return r.Seq, raw, nil
}

// Check walks the whole journal (every record decodes, sequences follow
// from 1 without a gap, each links to the hash of the one before, the
// stored hash is the record's) and returns the number of records and of
// open intents. A broken chain is ErrCorrupt.
func (s *Store) Check() (records, intents uint64, err error) {
	rows, err := s.db.Query("SELECT seq, hash, record FROM journal ORDER BY seq")
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: check: %w", err)
	}
	defer rows.Close()
	prev := s.genesis
	for rows.Next() {
		var seq int64
		var hash, raw []byte
		if err := rows.Scan(&seq, &hash, &raw); err != nil {
			return 0, 0, fmt.Errorf("sqlite: check: %w", err)
		}
		r, err := protocol.DecodeRecord(raw)
		switch h := protocol.RecordHash(raw); {
		case err != nil:
			return 0, 0, fmt.Errorf("sqlite: check: record %d: %w: %w", seq, ErrCorrupt, err)
		case uint64(seq) != records+1 || r.Seq != uint64(seq):
			return 0, 0, fmt.Errorf("sqlite: check: record %d (sequence %d) after %d: %w", seq, r.Seq, records, ErrCorrupt)
		case !bytes.Equal(r.Prev, prev[:]):
			return 0, 0, fmt.Errorf("sqlite: check: record %d does not link to the one before: %w", seq, ErrCorrupt)
		case !bytes.Equal(hash, h[:]):
			return 0, 0, fmt.Errorf("sqlite: check: record %d: stored hash is not the record's: %w", seq, ErrCorrupt)
		default:
			prev, records = h, records+1
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("sqlite: check: %w", err)
	}
	if err := s.db.QueryRow("SELECT count(*) FROM intents").Scan(&intents); err != nil {
		return 0, 0, fmt.Errorf("sqlite: check: count intents: %w", err)
	}
	return records, intents, nil
}
