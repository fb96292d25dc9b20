package sam

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/openykt/yktd/reader/epurse"
)

// Key file errors. Callers decide with errors.Is.
var (
	// ErrKeyFileMode: the key file is readable or writable by group or
	// others (it must be mode 0600 or stricter).
	ErrKeyFileMode = errors.New("sam: key file mode too open")
	// ErrKeyFile: the key file is malformed (bad JSON, unknown field, wrong
	// key length, missing terminal id...).
	ErrKeyFile = errors.New("sam: bad key file")
)

// maxKeyFile bounds the size of a key file read into memory.
const maxKeyFile = 64 << 10

// KeyFile is the parsed content of a software SAM key file.
//
// The format is one JSON object; byte strings are hexadecimal:
//
//	{
//	  "comment": "free text, e.g. TEST KEYS ONLY",
//	  "terminal_id": "0000000000F1",            // 6 bytes: PSAM file 0x16
//	  "sequence_file": "yktd-sam.seq",          // optional, see below
//	  "keys": [                                  // one entry per key version
//	    {"version": 1,
//	     "purchase": "<16 bytes>",               // DPK master
//	     "load":     "<16 bytes>",               // DLK master
//	     "tac":      "<16 bytes>",               // DTK master
//	     "system_pin": "<16 bytes>",             // optional: system-PIN master
//	     "maintenance": "<16 bytes>",            // optional: DAMK master (card file writes)
//	     "app_block": "<16 bytes>",              // optional: DABK master
//	     "app_unblock": "<16 bytes>",            // optional: DAUK master
//	     "pin_reload": "<16 bytes>"}             // optional: DRPK master
//	  ]
//	}
//
// system_pin is the master key of the cards' system PINs
// (epurse.DeriveSystemPIN), which open loads on a plain tap (DESIGN.md §4,
// the two-PIN model). It is optional: a key set without it works for
// purchases, and SystemPIN says the key is missing (epurse.ErrNoSystemPIN)
// when a load asks for it; key files written before it existed keep
// working. maintenance, app_block, app_unblock and pin_reload are the
// master keys of the card writes under secure messaging (epurse.Keys); they
// are optional too, and what a terminal's SAM needs only where it writes
// cards (the ledger's key service usually does).
//
// sequence_file names the file that keeps the last terminal transaction
// sequence number; a relative path is taken relative to the key file's
// directory; empty means the key file's path with ".seq" appended. The key
// file itself is never written. Unknown fields are refused, so a typo in a
// field name is an error rather than a silently missing key.
// testdata/keys-test.json is an example (test keys only).
type KeyFile struct {
	Comment      string
	TerminalID   [6]byte
	SequenceFile string
	// Keys holds the master key sets by key version (the key version a card
	// reports in INITIALIZE FOR PURCHASE).
	Keys map[byte]epurse.Keys
}

type keyFileJSON struct {
	Comment      string       `json:"comment"`
	TerminalID   string       `json:"terminal_id"`
	SequenceFile string       `json:"sequence_file"`
	Keys         []keySetJSON `json:"keys"`
}

type keySetJSON struct {
	Version  *int   `json:"version"`
	Purchase string `json:"purchase"`
	Load     string `json:"load"`
	TAC      string `json:"tac"`
	// SystemPIN and the write keys are optional ("" when absent).
	SystemPIN   string `json:"system_pin"`
	Maintenance string `json:"maintenance"`
	AppBlock    string `json:"app_block"`
	AppUnblock  string `json:"app_unblock"`
	PINReload   string `json:"pin_reload"`
}

// ParseKeyFile parses the JSON key file format described at KeyFile. It
// does not look at file modes; ReadKeyFile does.
func ParseKeyFile(b []byte) (KeyFile, error) {
	if len(b) > maxKeyFile {
		return KeyFile{}, fmt.Errorf("%w: %d bytes, limit %d", ErrKeyFile, len(b), maxKeyFile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j keyFileJSON
	if err := dec.Decode(&j); err != nil {
		return KeyFile{}, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return KeyFile{}, fmt.Errorf("%w: trailing data after the JSON object", ErrKeyFile)
	}
	kf := KeyFile{Comment: j.Comment, SequenceFile: j.SequenceFile, Keys: map[byte]epurse.Keys{}}
	tid, err := hexField("terminal_id", j.TerminalID, 6)
	if err != nil {
		return KeyFile{}, err
	}
	kf.TerminalID = [6]byte(tid)
	if len(j.Keys) == 0 {
		return KeyFile{}, fmt.Errorf("%w: no key sets in \"keys\"", ErrKeyFile)
	}
	for i, ks := range j.Keys {
		if ks.Version == nil || *ks.Version < 0 || *ks.Version > 255 {
			return KeyFile{}, fmt.Errorf("%w: keys[%d]: \"version\" missing or not 0..255", ErrKeyFile, i)
		}
		v := byte(*ks.Version)
		if _, dup := kf.Keys[v]; dup {
			return KeyFile{}, fmt.Errorf("%w: keys[%d]: key version %d given twice", ErrKeyFile, i, v)
		}
		var k epurse.Keys
		if k.Purchase, err = hexField(fmt.Sprintf("keys[%d].purchase", i), ks.Purchase, 16); err != nil {
			return KeyFile{}, err
		}
		if k.Load, err = hexField(fmt.Sprintf("keys[%d].load", i), ks.Load, 16); err != nil {
			return KeyFile{}, err
		}
		if k.TAC, err = hexField(fmt.Sprintf("keys[%d].tac", i), ks.TAC, 16); err != nil {
			return KeyFile{}, err
		}
		for _, o := range []struct {
			name, s string
			dst     *[]byte
		}{
			{"system_pin", ks.SystemPIN, &k.SystemPIN}, {"maintenance", ks.Maintenance, &k.Maintenance},
			{"app_block", ks.AppBlock, &k.AppBlock}, {"app_unblock", ks.AppUnblock, &k.AppUnblock},
			{"pin_reload", ks.PINReload, &k.PINReload},
		} {
			if o.s == "" {
				continue
			}
			if *o.dst, err = hexField(fmt.Sprintf("keys[%d].%s", i, o.name), o.s, 16); err != nil {
				return KeyFile{}, err
			}
		}
		kf.Keys[v] = k
	}
	return kf, nil
}

func hexField(name, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, name, err)
	}
	if len(b) != n {
		return nil, fmt.Errorf("%w: %s: %d bytes, want %d", ErrKeyFile, name, len(b), n)
	}
	return b, nil
}

// ReadKeyFile reads and parses a key file, refusing one whose mode lets
// group or others read or write it (ErrKeyFileMode). It resolves
// SequenceFile to an absolute or key-file-relative path.
func ReadKeyFile(path string) (KeyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return KeyFile{}, fmt.Errorf("sam: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return KeyFile{}, fmt.Errorf("sam: key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return KeyFile{}, fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return KeyFile{}, fmt.Errorf("%w: %s has mode %04o, group or others may access it; run chmod 600 %s", ErrKeyFileMode, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return KeyFile{}, fmt.Errorf("sam: key file: %w", err)
	}
	kf, err := ParseKeyFile(b)
	if err != nil {
		return KeyFile{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case kf.SequenceFile == "":
		kf.SequenceFile = path + ".seq"
	case !filepath.IsAbs(kf.SequenceFile):
		kf.SequenceFile = filepath.Join(filepath.Dir(path), kf.SequenceFile)
	}
	return kf, nil
}
