package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openykt/yktd/reader/epurse"
)

// maxIssuerKeyFile bounds an issuer key file.
const maxIssuerKeyFile = 64 << 10

type issuerKeyFile struct {
	Comment      string `json:"comment"`
	TerminalID   string `json:"terminal_id"`   // accepted (a SAM key file) and ignored
	SequenceFile string `json:"sequence_file"` // accepted and ignored
	Keys         []struct {
		Version   *int   `json:"version"`
		Purchase  string `json:"purchase"`
		Load      string `json:"load"`
		TAC       string `json:"tac"`
		SystemPIN string `json:"system_pin"` // optional
		// The card-write master keys, optional (epurse.Keys).
		Maintenance string `json:"maintenance"`
		AppBlock    string `json:"app_block"`
		AppUnblock  string `json:"app_unblock"`
		PINReload   string `json:"pin_reload"`
	} `json:"keys"`
}

// ParseIssuerKeys parses an issuer master key file: the JSON format of the
// software SAM's key file (reader/sam KeyFile: "keys": [{"version",
// "purchase", "load", "tac"}], hex, 16 bytes each, and the optional
// "system_pin" master key of the cards' system PINs, and the optional
// card-write master keys "maintenance", "app_block", "app_unblock" and
// "pin_reload" of the key service), so that the ledger
// and the SAMs of a reference set-up read the same file. terminal_id and
// sequence_file are accepted and ignored; unknown fields are refused. A key
// set without system_pin serves TAC checks and load MACs, but IssuerPINs
// cannot derive its cards' system PINs.
func ParseIssuerKeys(b []byte) (map[byte]epurse.Keys, error) {
	if len(b) > maxIssuerKeyFile {
		return nil, fmt.Errorf("ledger: issuer keys: %d bytes: %w", len(b), ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f issuerKeyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("ledger: issuer keys: %w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ledger: issuer keys: trailing data: %w", ErrInvalid)
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("ledger: issuer keys: no key sets: %w", ErrInvalid)
	}
	out := map[byte]epurse.Keys{}
	for i, k := range f.Keys {
		if k.Version == nil || *k.Version < 0 || *k.Version > 255 {
			return nil, fmt.Errorf("ledger: issuer keys: keys[%d]: version missing or not 0..255: %w", i, ErrInvalid)
		}
		v := byte(*k.Version)
		if _, dup := out[v]; dup {
			return nil, fmt.Errorf("ledger: issuer keys: key version %d twice: %w", v, ErrInvalid)
		}
		var ks epurse.Keys
		var err error
		for _, f := range []struct {
			name string
			s    string
			dst  *[]byte
		}{{"purchase", k.Purchase, &ks.Purchase}, {"load", k.Load, &ks.Load}, {"tac", k.TAC, &ks.TAC}} {
			*f.dst, err = hex.DecodeString(strings.ReplaceAll(f.s, " ", ""))
			if err != nil || len(*f.dst) != 16 {
				return nil, fmt.Errorf("ledger: issuer keys: keys[%d].%s: want 16 bytes of hex: %w", i, f.name, ErrInvalid)
			}
		}
		for _, o := range []struct {
			name, s string
			dst     *[]byte
		}{
			{"system_pin", k.SystemPIN, &ks.SystemPIN}, {"maintenance", k.Maintenance, &ks.Maintenance},
			{"app_block", k.AppBlock, &ks.AppBlock}, {"app_unblock", k.AppUnblock, &ks.AppUnblock},
			{"pin_reload", k.PINReload, &ks.PINReload},
		} {
			if o.s == "" {
				continue
			}
			*o.dst, err = hex.DecodeString(strings.ReplaceAll(o.s, " ", ""))
			if err != nil || len(*o.dst) != 16 {
				return nil, fmt.Errorf("ledger: issuer keys: keys[%d].%s: want 16 bytes of hex: %w", i, o.name, ErrInvalid)
			}
		}
		out[v] = ks
	}
	return out, nil
}

// ReadIssuerKeys reads an issuer key file, refusing one that group or
// others may access (it holds master keys: chmod 600).
func ReadIssuerKeys(path string) (map[byte]epurse.Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: issuer keys: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ledger: issuer keys: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ledger: issuer keys: %s has mode %04o, run chmod 600 %s: %w", path, st.Mode().Perm(), path, ErrInvalid)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxIssuerKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("ledger: issuer keys: %w", err)
	}
	keys, err := ParseIssuerKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}
