// Package offline is the terminal's durable store: one bbolt file holding the
// hash-chained journal, open purchase intents, the card status list and the
// sync cursor. Everything a tap decides offline and everything it proves later
// lives here; see DESIGN.md section 5.
//
// All writes of evidence are committed with fsync before the call returns.
// The store is safe for concurrent use by the goroutines of one process; a
// second process gets ErrStoreInUse.
package offline

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/openykt/yktd/offline/internal/boltfile"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket names (DESIGN.md section 5).
var (
	bucketMeta       = []byte("meta")
	bucketJournal    = []byte("journal")
	bucketIntents    = []byte("intents")
	bucketStatus     = []byte("status")
	bucketStatusMeta = []byte("statusmeta")
	bucketSync       = []byte("sync")
	bucketRules      = []byte("rules")
	bucketPending    = []byte("pending")
	bucketQRNonce    = []byte("qrnonce")
)

// Keys in meta.
var (
	keySchema  = []byte("schema")  // be64 schema version
	keyDevice  = []byte("device")  // device id
	keyEpoch   = []byte("epoch")   // be64 journal epoch; absent for epoch 0
	keyHead    = []byte("head")    // headValue: the last record
	keyAnchor  = []byte("anchor")  // seq(8) ‖ hash(32) of the last purged record
	keyAcked   = []byte("acked")   // in sync: seq(8) ‖ hash(32)
	keyVersion = []byte("version") // in statusmeta
	keyDigest  = []byte("digest")  // in statusmeta
	keyCounts  = []byte("counts")  // in statusmeta: be64 per reason
)

// Options configure Open. The zero value of every field but DeviceID (needed
// to create a store) is a sensible default.
type Options struct {
	// DeviceID names the device; it is written into a new store and its
	// journal's genesis value. Opening an existing store with a different
	// non-empty DeviceID fails with ErrDeviceMismatch.
	DeviceID string
	// Epoch is the journal epoch of a new store (protocol.EpochGenesis): 0
	// for a device's first store, the next number for a store started anew
	// over an enrolled identity whose old store was lost. It is written
	// into a new store with DeviceID; an existing store keeps its own.
	Epoch uint64
	// Clock is the time source; default SystemClock.
	Clock Clock
	// ClockStep is how far the wall clock may move against the monotonic
	// clock between two records before a clock-changed record is written;
	// default 2s. A clock going backwards is always recorded, across a
	// restart too (a record older than the head). A forward jump across a
	// restart is not: the monotonic clock restarts with the process, so
	// the store has no reference for how long it was down, and a wall
	// clock set ahead while the terminal was off (or that reads ahead on
	// boot) gives records a plausible but wrong time with no clock-changed
	// record. Only an outside reference can tell (the ledger's time at the
	// next sync, or a trusted RTC or time source on the board).
	ClockStep time.Duration
	// LockTimeout is how long Open waits for another process's lock before
	// ErrStoreInUse; default 500ms.
	LockTimeout time.Duration
	// ReadOnly opens without writing (tools beside a stopped daemon).
	ReadOnly bool
	// MaxSize caps the file in bytes (bbolt MaxSize); 0 means no cap.
	MaxSize int
	// MaxUnacked caps the records not yet acknowledged by the ledger;
	// default 500000.
	MaxUnacked uint64
	// Reserve is how many records below MaxUnacked (and ReserveBytes below
	// MaxSize) new purchases stop, so that outcomes of open intents and
	// other evidence still fit; default 1000 records and MaxSize/16.
	Reserve      uint64
	ReserveBytes int
	// Retention is how long acknowledged records stay before Purge may
	// delete them; default 90 days.
	Retention time.Duration
	// GroupCommitDelay is how long a completion waits to share a commit
	// (bbolt MaxBatchDelay); default 2ms.
	GroupCommitDelay time.Duration
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.ClockStep <= 0 {
		o.ClockStep = 2 * time.Second
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 500 * time.Millisecond
	}
	if o.MaxUnacked == 0 {
		o.MaxUnacked = 500_000
	}
	if o.Reserve == 0 {
		o.Reserve = min(1000, o.MaxUnacked/10)
	}
	if o.ReserveBytes == 0 && o.MaxSize > 0 {
		o.ReserveBytes = int(effectiveCap(o.MaxSize) / 16)
	}
	if o.Retention <= 0 {
		o.Retention = 90 * 24 * time.Hour
	}
	if o.GroupCommitDelay <= 0 {
		o.GroupCommitDelay = 2 * time.Millisecond
	}
}

// Store is an open offline store.
type Store struct {
	db       *bolt.DB
	path     string
	opts     Options
	deviceID string
	epoch    uint64
	genesis  [protocol.HashSize]byte
	boot     uint64 // random per Open: tells whether the head's monotonic reading is ours
}

// Open opens or creates the store at path (mode 0600), migrating an older
// schema. A new store is created only where no file exists, and atomically
// (see create): an existing file that is not a yktd store (empty, not
// bbolt, bbolt without a yktd schema) is refused with ErrNotStore and left
// as it is, read-only or read-write. Open fails with ErrStoreInUse when
// another process holds the file, ErrSchemaTooNew for a file from a newer
// program, ErrDeviceMismatch for another device's store, ErrCorrupt for a
// file cut short, whose meta pages are damaged or whose pages break
// bbolt's layout (checked with plain reads before bbolt maps the file, so
// that no read faults or strays beyond a page).
func Open(path string, opts Options) (*Store, error) {
	opts.defaults()
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !opts.ReadOnly:
		if err := create(path, opts); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("offline: open %s: %w", path, bare(err))
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("offline: open %s: %w: not a regular file; check the path", path, ErrNotStore)
	}
	if err := checkFile(path, opts.LockTimeout); err != nil {
		return nil, err
	}
	db, err := openBolt(path, &bolt.Options{
		Timeout:         opts.LockTimeout,
		ReadOnly:        opts.ReadOnly,
		MaxSize:         opts.MaxSize,
		FreelistType:    bolt.FreelistMapType,
		PageSize:        pageSize,
		InitialMmapSize: initialMmapSize(path, opts.MaxSize),
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("offline: open %s: %w (is the daemon running?)", path, ErrStoreInUse)
		}
		return nil, fmt.Errorf("offline: open %s: %w", path, bare(err))
	}
	db.MaxBatchDelay = opts.GroupCommitDelay
	s := &Store{db: db, path: path, opts: opts}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.boot = binary.BigEndian.Uint64(b[:]) | 1
	if err := s.init(); err != nil {
		db.Close()
		return nil, wrap("offline: open "+path, err)
	}
	return s, nil
}

// bare drops the operation and file name of an *fs.PathError, which the
// package's own message already names.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// create makes a new store at path atomically: built and committed in a
// temporary file beside it, then linked into place, so that path never
// names a half-made store (an empty or bucketless file, which Open refuses
// as not a store). If another process created the store meanwhile, its
// store stays and create returns nil: Open then opens that one.
func create(path string, opts Options) error {
	if opts.DeviceID == "" {
		return fmt.Errorf("offline: open %s: a new store needs a device id: %w", path, ErrInvalid)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("offline: create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Close(); err != nil {
		return fmt.Errorf("offline: create %s: %w", path, err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, PageSize: pageSize})
	if err != nil {
		return fmt.Errorf("offline: create %s: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: opts}
	err = s.update("create", func(tx *bolt.Tx) error {
		if err := migrate(tx, schemaVersion); err != nil {
			return err
		}
		return s.loadDevice(tx)
	})
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("offline: create %s: %w", path, cerr)
	}
	if err != nil {
		return wrap("offline: create "+path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		// A file system without hard links: rename, checking first that
		// no store appeared (a narrow race only there).
		if _, serr := os.Lstat(path); serr == nil {
			return nil
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("offline: create %s: %w", path, err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("offline: create %s: sync directory: %w", path, err)
		}
	}
	return nil
}

// checkFile refuses an existing file that is not a store (empty, not
// bbolt: ErrNotStore) or that bbolt would fault on or follow out of its
// pages (ErrCorrupt): one cut short of the pages its meta page names, with
// no valid meta page, or with a damaged page (boltfile.Walk reads every
// page in use once). It holds a shared lock meanwhile, so that a writer
// cannot change the file under the check.
func checkFile(path string, lockTimeout time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("offline: open %s: %w", path, bare(err))
	}
	defer f.Close()
	if err := boltfile.LockShared(f, lockTimeout); err != nil {
		if errors.Is(err, boltfile.ErrLocked) {
			return fmt.Errorf("offline: open %s: %w (is the daemon running?)", path, ErrStoreInUse)
		}
		return fmt.Errorf("offline: open %s: lock: %w", path, err)
	}
	m, err := boltfile.Check(f, func() (int64, error) {
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	})
	if err == nil {
		err = boltfile.Walk(f, m)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, boltfile.ErrEmpty):
		return fmt.Errorf("offline: open %s: %w: %w; restore the store from a backup, or move the file aside", path, ErrNotStore, err)
	case errors.Is(err, boltfile.ErrNotBolt):
		return fmt.Errorf("offline: open %s: %w: %w; check the path, or move the file aside", path, ErrNotStore, err)
	case errors.Is(err, boltfile.ErrTruncated), errors.Is(err, boltfile.ErrBadMeta), errors.Is(err, boltfile.ErrBadPage):
		return fmt.Errorf("offline: open %s: %w: %w; keep the file (it may hold records the ledger has not received) and restore the store from a backup", path, ErrCorrupt, err)
	}
	return fmt.Errorf("offline: open %s: %w", path, err)
}

// openBolt is bolt.Open with a damaged file's panic or fault (a page
// beyond the file) turned into ErrCorrupt. The file bbolt opened is then
// closed, which releases its lock; its mapping stays (bbolt keeps it to
// itself), address space the next Open does not reuse.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	var f *os.File
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		var err error
		f, err = os.OpenFile(name, flag, perm)
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if f != nil {
				f.Close()
			}
			db, err = nil, fmt.Errorf("%w: bbolt: %v", ErrCorrupt, p)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

// init checks the schema (migrating it read-write) and loads the device
// id. Its errors carry the prefix once; Open puts them in its context.
func (s *Store) init() error {
	if !s.opts.ReadOnly {
		if fi, err := os.Stat(s.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(s.path, 0o600); err != nil {
				return fmt.Errorf("offline: chmod: %w", bare(err))
			}
		}
		return s.update("open", func(tx *bolt.Tx) error {
			if err := s.checkSchema(tx); err != nil {
				return err
			}
			if err := migrate(tx, schemaVersion); err != nil {
				return err
			}
			return s.loadDevice(tx)
		})
	}
	return s.view("open", func(tx *bolt.Tx) error {
		if err := s.checkSchema(tx); err != nil {
			return err
		}
		return s.loadDevice(tx)
	})
}

// checkSchema refuses a file without a yktd schema (a bbolt file of
// another program, or one with no bucket), one of a newer program, and, to
// a read-only store, one that needs migrating.
func (s *Store) checkSchema(tx *bolt.Tx) error {
	v, err := schemaOf(tx)
	switch {
	case err != nil:
		return err
	case v == 0:
		return fmt.Errorf("offline: %w: a bbolt database without a yktd schema; check the path, or move the file aside", ErrNotStore)
	case v > schemaVersion:
		return fmt.Errorf("offline: %w (schema %d, this program knows %d): upgrade yktd", ErrSchemaTooNew, v, schemaVersion)
	case v < schemaVersion && s.opts.ReadOnly:
		return fmt.Errorf("offline: schema %d needs migrating to %d, open the store read-write once: %w", v, schemaVersion, ErrReadOnly)
	}
	return nil
}

func (s *Store) loadDevice(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	dev := meta.Get(keyDevice)
	switch {
	case dev == nil && s.opts.DeviceID == "":
		return fmt.Errorf("offline: a new store needs a device id: %w", ErrInvalid)
	case dev == nil:
		if err := meta.Put(keyDevice, []byte(s.opts.DeviceID)); err != nil {
			return fmt.Errorf("offline: write device id: %w", err)
		}
		if s.opts.Epoch > 0 {
			if err := meta.Put(keyEpoch, be64(s.opts.Epoch)); err != nil {
				return fmt.Errorf("offline: write epoch: %w", err)
			}
		}
		dev = []byte(s.opts.DeviceID)
	case s.opts.DeviceID != "" && string(dev) != s.opts.DeviceID:
		return fmt.Errorf("offline: %w (%q, not %q)", ErrDeviceMismatch, dev, s.opts.DeviceID)
	}
	s.deviceID = string(dev)
	if v := meta.Get(keyEpoch); v != nil {
		e, err := decodeUint64(v)
		if err != nil {
			return fmt.Errorf("offline: epoch: %w", err)
		}
		s.epoch = e
	}
	s.genesis = protocol.EpochGenesis(s.deviceID, s.epoch)
	return nil
}

// Epoch returns the store's journal epoch (0 for a device's first store).
func (s *Store) Epoch() uint64 { return s.epoch }

// Close closes the store. Every committed record is already on disk.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("offline: close: %w", err)
	}
	return nil
}

// DeviceID returns the device id the store belongs to.
func (s *Store) DeviceID() string { return s.deviceID }

// Genesis returns the link of the journal's first record.
func (s *Store) Genesis() [protocol.HashSize]byte { return s.genesis }

// WriteStats reports bbolt's commit work since the store opened: the pages
// written and the time spent writing and fsyncing them (for metrics).
func (s *Store) WriteStats() (pages int64, spent time.Duration) {
	st := s.db.Stats().TxStats
	return st.GetWrite(), st.GetWriteTime()
}

// Path returns the file name of the store.
func (s *Store) Path() string { return s.path }

// CheckConsistency runs bbolt's page-level consistency check.
func (s *Store) CheckConsistency() error {
	return s.view("consistency check", func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("offline: consistency check: %w", errors.Join(errs...))
		}
		return nil
	})
}

// update runs fn in one committed, fsync'd transaction and maps bbolt's
// errors to the package's.
func (s *Store) update(op string, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(op, &err)
	return s.mapErr(op, s.db.Update(fn))
}

// batch runs fn through bbolt's group commit. fn may run more than once and
// must not have side effects outside tx. (bbolt recovers a panic of fn in
// a batch and runs it again alone, in this goroutine.)
func (s *Store) batch(op string, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(op, &err)
	return s.mapErr(op, s.db.Batch(func(tx *bolt.Tx) error {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true)) // bbolt may run it on its timer's goroutine
		return fn(tx)
	}))
}

// view runs fn in a read transaction. Every read goes through it: bbolt
// follows the page numbers it finds in the file, so a damaged page makes
// it panic or fault (a page beyond the file); view turns both into
// ErrCorrupt instead of ending the process.
func (s *Store) view(op string, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(op, &err)
	return s.db.View(fn)
}

// guard, deferred first in a function that runs a transaction, turns a
// panic or memory fault during it into ErrCorrupt. bbolt rolls the
// transaction back when it unwinds.
func guard(op string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("offline: %s: %w: bbolt: %v", op, ErrCorrupt, p)
	}
}

func (s *Store) mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrMaxSizeReached):
		return fmt.Errorf("offline: %s: %w: %w", op, ErrStorageFull, err)
	case errors.Is(err, berrors.ErrDatabaseReadOnly):
		return fmt.Errorf("offline: %s: %w", op, ErrReadOnly)
	case isOurs(err):
		return err
	}
	return fmt.Errorf("offline: %s: %w", op, err)
}

// isOurs reports whether err was made by this package (already prefixed).
func isOurs(err error) bool {
	var ce *ChainError
	return errors.As(err, &ce) || strings.HasPrefix(err.Error(), "offline:")
}

// pageSize is the page size of a new store (an existing one keeps its own).
// A 10k-change status delta over 1M entries rewrites most of the status
// list's pages, and bbolt writes one page per pwrite: with 4 KiB pages that
// was ~3,900 syscalls and ~150 ms a delta, with 16 KiB ~1,000 and ~85 ms
// (budget 100 ms). The cost is on small commits, which write 16 KiB pages:
// a durable purchase intent measured ~10% slower against a bare 4 KiB
// fsync (BenchmarkIntentOpenVsFsync).
const pageSize = 16 << 10

// initialMmapSize maps twice the file (at least 64 MiB, at most 1 GiB or
// MaxSize) from the start. A write transaction that grows the file past
// the mapping remaps it, and bbolt then copies every node the transaction
// has touched into the heap: a status delta, which touches most of the
// list's pages, would pay that on each growth. The mapping is address
// space, not memory: only pages read count in the resident set. The cap
// keeps a 32-bit ARM process's 3 GiB of address space mostly free.
func initialMmapSize(path string, maxSize int) int {
	const (
		floor = 64 << 20
		ceil  = 1 << 30
	)
	size := floor
	if fi, err := os.Stat(path); err == nil && fi.Size() < ceil/2 {
		size = max(size, 2*int(fi.Size()))
	} else if err == nil {
		size = ceil
	}
	if maxSize > 0 {
		size = min(size, maxSize)
	}
	return min(size, ceil)
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}
