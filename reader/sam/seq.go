package sam

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/openykt/yktd/internal/atomicfile"
)

// ErrSequenceExhausted: the terminal transaction sequence reached its
// 32-bit maximum; the SAM refuses rather than repeat a number.
var ErrSequenceExhausted = errors.New("sam: terminal transaction sequence exhausted")

// seqStore keeps the last terminal transaction sequence number handed out.
// With a path, every new number is written to disk (atomically, fsync'd)
// before it is returned, so a number is never handed out twice even if the
// process dies right after.
type seqStore struct {
	path string // "" keeps the number in memory only
	last uint32
}

func openSeq(path string) (*seqStore, error) {
	s := &seqStore{path: path}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("sam: sequence file: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("sam: sequence file %s: %w", path, err)
	}
	s.last = uint32(n)
	return s, nil
}

// next reserves and returns the next number (the first is 1).
func (s *seqStore) next() (uint32, error) {
	if s.last == math.MaxUint32 {
		return 0, ErrSequenceExhausted
	}
	n := s.last + 1
	if s.path != "" {
		if err := atomicfile.Write(s.path, []byte(strconv.FormatUint(uint64(n), 10)+"\n"), 0o600); err != nil {
			return 0, fmt.Errorf("sam: sequence file: %w", err)
		}
	}
	s.last = n
	return n, nil
}
