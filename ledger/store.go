// Package ledger is the reference central ledger of yktd (DESIGN.md 2, 3.3,
// 3.4): the server side of the protocol. It keeps, in one bbolt file in its
// data directory, the device registry with one-time enrolment tokens, every
// device's journal records exactly once (hash chain checked, forks refused
// and alerted), the purchase TAC checks, card balances as the ledger knows
// them, pending loads (圈存) with their MAC2 authorisations, versioned status
// lists (deltas and snapshots) and versioned rules. Server serves it over
// HTTP with the /v1/ endpoints of the wire contract; cmd/ledgerd runs it.
//
// A Ledger is safe for concurrent use by the goroutines of one process; a
// second process opening the same data directory gets ErrInUse.
package ledger

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/bank"
	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Files in the data directory.
const (
	DBFile  = "ledger.db"  // the bbolt database
	KeyFile = "ledger.key" // the ledger's Ed25519 signing key (0600)
	// HolderKeyFile is the secret of the accounts' PIN verification values
	// and ID digests (keys.SoftwareHolder), made at the first start (0600).
	// Back it up with the database: without it no PIN verifies.
	HolderKeyFile = "holder.key"
)

// Bucket names. A journal space is a nested bucket per device and journal
// epoch: named by the device id for epoch 0 (the layout before epochs), by
// the id ‖ 0x00 ‖ be64(epoch) for a later epoch (see space).
var (
	bucketMeta        = []byte("meta")
	bucketDevices     = []byte("devices")     // device id → JSON Device
	bucketTokens      = []byte("tokens")      // SHA-256(token) → JSON token
	bucketJournal     = []byte("journal")     // journal space → (be64 seq → raw record)
	bucketAcks        = []byte("acks")        // journal space → (be64 batch no → JSON Ack)
	bucketIntents     = []byte("intents")     // journal space → (be64 intent id → state)
	bucketTAC         = []byte("tac")         // journal space → (be64 seq → JSON TACResult), flagged ones
	bucketAlerts      = []byte("alerts")      // be64 n → JSON Alert
	bucketCards       = []byte("cards")       // card no → JSON Card
	bucketStatus      = []byte("status")      // be16 partition ‖ card → reason ‖ be64 since ‖ be64 version
	bucketStatusParts = []byte("statusparts") // be16 partition → P(i)
	bucketStatusLog   = []byte("statuslog")   // be64 version → JSON statusVersion
	bucketRules       = []byte("rules")       // be64 version → JSON protocol.Rules
	bucketLoads       = []byte("loads")       // be64 load id → JSON Load
	bucketPendingIdx  = []byte("pendingidx")  // card ‖ 0 ‖ be64 load id → nil, loads still claimable
	bucketLoadInits   = []byte("loadinits")   // card ‖ 0 ‖ be16 online counter → JSON loadInit
	bucketSales       = []byte("sales")       // journal space → (be64 intent id → JSON sale), schema 2
	bucketSightings   = []byte("sightings")   // be64 n → JSON Sighting
)

var allBuckets = [][]byte{
	bucketMeta, bucketDevices, bucketTokens, bucketJournal, bucketAcks, bucketIntents, bucketTAC,
	bucketAlerts, bucketCards, bucketStatus, bucketStatusParts, bucketStatusLog, bucketRules,
	bucketLoads, bucketPendingIdx, bucketLoadInits, bucketSales, bucketSightings,
	bucketAccounts, bucketCardAcct, bucketAcctLog, bucketTransfers, bucketSimBank, bucketCardCtr, bucketCardSeen,
}

// Keys in meta.
var (
	keySchema        = []byte("schema")
	keyStatusVersion = []byte("statusversion")
	keyRulesVersion  = []byte("rulesversion")
	keyAlertSeq      = []byte("alertseq")
	keyLoadSeq       = []byte("loadseq")
	keyStatusDigest  = []byte("statusdigest")
	keyStatusCount   = []byte("statuscount")
	keySightingSeq   = []byte("sightingseq")
)

// Options configure Open. The zero value of each field is a sensible default.
type Options struct {
	// Now is the ledger's clock; default time.Now.
	Now func() time.Time
	// IssuerKeys are the issuer master key sets by key version (the same
	// keys the SAMs hold), for TAC checks and load MAC1/MAC2: the ledger's
	// key service is keys.NewSoftware(IssuerKeys) unless Keys is set.
	// Without them TACs are reported unverifiable and loads refused.
	IssuerKeys map[byte]epurse.Keys
	// Keys, when set, is the key service (an HSM); IssuerKeys is then
	// unused.
	Keys keys.Service
	// Holder, when set, is the account side of the key service; default
	// keys.SoftwareHolder over the data directory's holder.key.
	Holder keys.Holder
	// Logger receives the ledger's logs; default slog.Default().
	Logger *slog.Logger
	// LockTimeout is how long Open waits for another process's lock before
	// ErrInUse; default 500ms.
	LockTimeout time.Duration
	// TokenTTL is the validity of a new enrolment token; default 24h.
	TokenTTL time.Duration
	// MaxBatchRecords caps the records of one batch; default
	// protocol.MaxBatchRecords.
	MaxBatchRecords int
	// SnapshotAfter: a status request more than this many changes behind
	// the current version gets a snapshot instead of a delta; default 50000.
	SnapshotAfter int
	// StatusHistory is how many status-list versions keep their change
	// log (older devices get a snapshot); default 10000.
	StatusHistory int
	// MaxOffline is the devices' sync.max_offline: how long a device may
	// sell without reaching the ledger. A replaced card whose offline
	// counter shows a gap has its balance released only after it (see
	// ReleaseOldCards); default DefaultMaxOffline.
	MaxOffline time.Duration
	// Bank is the bank of 银校转账; default the simulated bank in the
	// ledger's store (bank.Simulated).
	Bank bank.Bank
	// MaxTransfer caps one bank transfer (fen); default DefaultMaxTransfer.
	MaxTransfer int64
	// Location is the campus time zone: a load's date-time is the kiosk's
	// clock in its device.timezone, read in this zone against the ledger's
	// clock; default time.Local. It must be the devices' device.timezone
	// (ledgerd serve --timezone, default Asia/Shanghai as theirs).
	Location *time.Location
	// IDLockout is how long accounts.MaxIDTries wrong national ID numbers
	// lock an account's ID check (解挂); default accounts.DefaultIDLockout.
	IDLockout time.Duration
	// CardWriteMACs, when set, makes the secure-messaging MACs of card
	// writes (/v1/cardwrites/mac); default the key service when it offers
	// them, else write grants carry no MAC.
	CardWriteMACs CardWriteMACs
	// NoSync turns bbolt's fsync off: benchmarks only, never in service.
	NoSync bool

	// Limits of the HTTP server (Server), against overload: beyond them a
	// request is answered rate-limited (15, HTTP 429, Retry-After: 1)
	// before its body is read.
	//
	// MaxRequests is how many /v1/ requests are served at once; default
	// DefaultMaxRequests.
	MaxRequests int
	// MaxBodyMemory is how many bytes of request bodies are held at once
	// (each request reserves its declared length, or its endpoint's
	// maximum); default DefaultMaxBodyMemory.
	MaxBodyMemory int64
	// BodyTimeout is how long a request body may take to arrive; default
	// DefaultBodyTimeout, negative for none (the http.Server's own
	// timeouts still apply).
	BodyTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 500 * time.Millisecond
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.MaxBatchRecords == 0 {
		o.MaxBatchRecords = protocol.MaxBatchRecords
	}
	if o.SnapshotAfter == 0 {
		o.SnapshotAfter = 50000
	}
	if o.MaxTransfer <= 0 {
		o.MaxTransfer = DefaultMaxTransfer
	}
	if o.MaxOffline <= 0 {
		o.MaxOffline = DefaultMaxOffline
	}
	if o.IDLockout <= 0 {
		o.IDLockout = accounts.DefaultIDLockout
	}
	if o.StatusHistory == 0 {
		o.StatusHistory = 10000
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.MaxBodyMemory <= 0 {
		o.MaxBodyMemory = DefaultMaxBodyMemory
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
}

// Ledger is an open ledger: its database and signing key.
type Ledger struct {
	db   *bolt.DB
	dir  string
	opts Options
	log  *slog.Logger
	key  ed25519.PrivateKey
	kid  string

	keys   keys.Service // the key service: MAC1, MAC2, TACs, system PINs
	holder keys.Holder  // PIN verification values, ID digests
	bank   bank.Bank
}

// Open opens (creating if needed) the ledger in data directory dir: the
// database dir/ledger.db and the signing key dir/ledger.key, made at the
// first start. A second open of the same directory, in this process or
// another, fails with ErrInUse.
func Open(dir string, opts Options) (*Ledger, error) {
	opts.defaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	key, err := loadOrCreateKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("ledger: open %s: %w (is ledgerd running?)", path, ErrInUse)
		}
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	l := &Ledger{db: db, dir: dir, opts: opts, log: opts.Logger, key: key, kid: KeyID(key.Public().(ed25519.PublicKey)),
		keys: opts.Keys, holder: opts.Holder}
	if l.keys == nil {
		l.keys = keys.NewSoftware(opts.IssuerKeys)
	}
	if l.bank = opts.Bank; l.bank == nil {
		l.bank = bank.NewSimulated(db, bucketSimBank)
	}
	if l.holder == nil {
		secret, err := keys.LoadOrCreateHolderKey(filepath.Join(dir, HolderKeyFile))
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("ledger: open: %w", err)
		}
		if l.holder, err = keys.NewSoftwareHolder(secret); err != nil {
			db.Close()
			return nil, fmt.Errorf("ledger: open: %w", err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := getU64(meta, keySchema); {
		case v == 0:
			if err := meta.Put(keySchema, be64(schemaVersion)); err != nil {
				return err
			}
		case v > schemaVersion:
			return fmt.Errorf("ledger: open: schema %d, this program knows %d: %w", v, schemaVersion, ErrCorrupt)
		case v < schemaVersion:
			l.log.Warn("ledger: migrating the database", "from", v, "to", schemaVersion, "path", path)
			if err := migrate(tx, v); err != nil {
				return err
			}
		}
		return l.firstStatusList(tx)
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	return l, nil
}

// Close closes the database. Everything committed is on disk.
func (l *Ledger) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("ledger: close: %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (l *Ledger) Dir() string { return l.dir }

// now returns the ledger clock's time.
func (l *Ledger) now() time.Time { return l.opts.Now() }

// CheckConsistency runs bbolt's page-level consistency check.
func (l *Ledger) CheckConsistency() error {
	return l.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("ledger: consistency check: %w", errors.Join(errs...))
		}
		return nil
	})
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// nextSeq increments the counter at meta key k and returns the new value.
func nextSeq(tx *bolt.Tx, k []byte) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	n := getU64(meta, k) + 1
	return n, meta.Put(k, be64(n))
}

// sub returns the nested bucket name of parent, creating it when create.
func sub(tx *bolt.Tx, parent []byte, name string, create bool) (*bolt.Bucket, error) {
	p := tx.Bucket(parent)
	if b := p.Bucket([]byte(name)); b != nil || !create {
		return b, nil
	}
	return p.CreateBucket([]byte(name))
}
