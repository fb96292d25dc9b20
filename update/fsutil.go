package update

import (
	"fmt"
	"os"
	"path/filepath"
)

// syncDir fsyncs a directory, so that a rename or create in it survives a
// power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("update: fsync %s: %w", dir, err)
	}
	return nil
}

// writeAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("update: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("update: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("update: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return syncDir(dir)
}

// switchLink points the symlink link at target atomically: a temporary
// link beside it renamed over it (rename(2) replaces it in one step; `ln
// -sfn` unlinks first), then the directory is fsynced. step, when not
// nil, is called between the two.
func switchLink(link, target string, step func()) error {
	dir := filepath.Dir(link)
	tmp := filepath.Join(dir, "."+filepath.Base(link)+".tmp")
	_ = os.Remove(tmp) // a leftover of a cut switch
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("update: link: %w", err)
	}
	if step != nil {
		step()
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("update: switch: %w", err)
	}
	return syncDir(dir)
}
