package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/openykt/yktd/internal/atomicfile"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
)

// A device's store and its identity belong together: once the device has a
// key (device.key) or has pinned the ledger's key (ledger.pub), its journal
// chain may be at the ledger, and a store made anew would start a chain the
// ledger refuses as a fork, stranding every sale after it. So the daemon
// refuses to start when an identity exists but the store is missing or
// empty (errStoreLost, exit code 4), until the technician says
// `--new-store`: then the new store starts the device's next journal epoch
// (protocol.EpochGenesis), which the ledger takes as the continuation.
//
// The device's current epoch is kept beside its key in epochFile, written
// when a store is made, so that the next epoch is known without the lost
// store and an older store put back behind a newer epoch is refused.

// epochFile holds the journal epoch of the device's current store, in the
// identity directory: a decimal number and a newline.
const epochFile = "store.epoch"

// errStoreLost is a store that does not fit the device's identity: missing
// or empty beside device.key or ledger.pub, or older than the device's
// epoch. yktd exits with code 4.
var errStoreLost = errors.New("the store does not fit this device's identity")

// storePlan is how the daemon opens its store, decided before anything is
// created.
type storePlan struct {
	path, idDir string
	// epoch is Options.Epoch for a new store.
	epoch uint64
	// removeEmpty: the store is an empty file to remove before making the
	// new store (offline.Open refuses an empty file).
	removeEmpty bool
	// known is whether epochFile exists; fileEpoch is its number.
	known     bool
	fileEpoch uint64
}

// planStore checks the store at path against the identity in idDir.
// newStore is the technician's --new-store.
func planStore(path, idDir string, newStore bool) (storePlan, error) {
	p := storePlan{path: path, idDir: idDir}
	st, err := os.Stat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("store: %w", err)
	}
	if p.fileEpoch, p.known, err = readEpoch(idDir); err != nil {
		return p, err
	}
	empty := !exists || st.Size() == 0
	ids := identityFiles(idDir)
	switch {
	case !empty && newStore:
		return p, usageError("--new-store: the store %s exists and is not empty; --new-store never replaces a store. "+
			"If it is damaged, move it aside (keep it: its records are evidence) and run with --new-store again", path)
	case !empty:
		return p, nil
	case len(ids) == 0:
		// No identity: the device's first store (epoch 0), with or
		// without --new-store; an empty file is removed first. An epoch
		// file left without an identity is rewritten.
		p.removeEmpty, p.known = exists, false
		return p, nil
	case !newStore:
		what := "missing"
		if exists {
			what = "empty (0 bytes)"
		}
		return p, fmt.Errorf("%w: the store %s is %s, but this device has an identity (%s in %s): "+
			"its journal chain at the ledger continues from the lost store, and a new chain would be refused as a fork. "+
			"Put the store back (from a backup) and start again, or start the device's next journal epoch with --new-store "+
			"(records of the lost store that had not reached the ledger are lost with it)",
			errStoreLost, path, what, strings.Join(ids, " and "), idDir)
	}
	p.epoch = p.fileEpoch + 1
	p.removeEmpty = exists
	return p, nil
}

// identityDir is the folder of the device's identity (device.key,
// ledger.pub): the data directory, or the store's folder without one, as
// newSyncClient has it.
func identityDir(cfg *config.Config) string {
	if cfg.Device.DataDir != "" {
		return cfg.Device.DataDir
	}
	return filepath.Dir(cfg.Device.Store)
}

// identityFiles returns the identity files present in dir.
func identityFiles(dir string) []string {
	var out []string
	for _, f := range []string{deviceKeyFile, ledgerKeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// readEpoch reads epochFile in dir; known is false when there is none.
func readEpoch(dir string) (epoch uint64, known bool, err error) {
	path := filepath.Join(dir, epochFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store epoch: %w", err)
	}
	epoch, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || len(b) > 32 {
		return 0, false, fmt.Errorf("store epoch %s: %.32q is not an epoch number: write the journal epoch of the device's current store in it (0 for its first store)", path, b)
	}
	return epoch, true, nil
}

// open opens the store as planned: a new store of a later epoch gets its
// store-started record first, and epochFile follows the store's epoch.
func (p storePlan) open(opts offline.Options, log *slog.Logger) (*offline.Store, error) {
	if p.removeEmpty {
		if err := removeEmptyFile(p.path); err != nil {
			return nil, err
		}
	}
	opts.Epoch = p.epoch
	s, err := offline.Open(p.path, opts)
	if err != nil {
		return nil, err
	}
	if err := p.settle(s, log); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// settle checks an opened store's epoch against epochFile, journals the
// start of a new epoch and records the store's epoch.
func (p storePlan) settle(s *offline.Store, log *slog.Logger) error {
	epoch := s.Epoch()
	if p.known && p.fileEpoch > epoch {
		return fmt.Errorf("%w: the store %s is of journal epoch %d, but this device already started epoch %d (%s): "+
			"it is an older store put back. Put the current store back, or move this one aside and start the next epoch with --new-store",
			errStoreLost, p.path, epoch, p.fileEpoch, filepath.Join(p.idDir, epochFile))
	}
	if epoch > 0 {
		h, err := s.Head()
		if err != nil {
			return err
		}
		if h.Seq == 0 { // a new epoch's first record (again, after a crash before it)
			if _, err := s.Append(protocol.Record{Kind: protocol.KindStoreStarted, Version: epoch}); err != nil {
				return fmt.Errorf("store started: %w", err)
			}
			log.Warn("new store started: the journal continues in the next epoch", "store", p.path, "epoch", epoch)
		}
	}
	if !p.known || p.fileEpoch != epoch {
		path := filepath.Join(p.idDir, epochFile)
		if err := atomicfile.Write(path, []byte(strconv.FormatUint(epoch, 10)+"\n"), 0o600); err != nil {
			return fmt.Errorf("store epoch: %w", err)
		}
	}
	return nil
}

// removeEmptyFile removes path if it is still an empty regular file.
func removeEmptyFile(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() != 0 {
		return fmt.Errorf("store %s: no longer an empty file; not removed", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
