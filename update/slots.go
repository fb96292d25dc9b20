package update

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openykt/yktd/protocol"
)

// Slot names.
const (
	SlotA = "a"
	SlotB = "b"
)

// File names in a slots directory.
const (
	PinsFile    = "release-keys.pem"
	CurrentLink = "current"
	StateFile   = "trial.json"
	slotsSubdir = "slots"
)

// Step is a point of Install, for a test that stops the process there.
type Step int

// The steps of Install, in order.
const (
	StepWritten      Step = iota + 1 // half the binary is in the temporary file
	StepSynced                       // the temporary file is complete and fsynced
	StepSlotRenamed                  // the binary is the inactive slot
	StepInfoWritten                  // the slot's info file is written
	StepTrialWritten                 // the trial state names the new slot
	StepLinkMade                     // the temporary link exists
	StepSwitched                     // current points at the new slot
)

// SlotInfo is what a slot holds: the release installed there.
type SlotInfo struct {
	Version      string    `json:"version"`
	Arch         string    `json:"arch"`
	Size         uint64    `json:"size"`
	SHA256       string    `json:"sha256"`
	Schema       uint64    `json:"schema"`
	ReadsSchema  uint64    `json:"reads_schema"`
	Kinds        uint64    `json:"kinds"`
	DecodesKinds uint64    `json:"decodes_kinds"`
	Installed    time.Time `json:"installed"`
	// Manifest is the signed manifest it came with (none for the binary a
	// technician initialised the slots with).
	Manifest []byte `json:"manifest,omitempty"`
	KeyID    string `json:"key_id,omitempty"`
}

// Running returns the Running of a binary with info i.
func (i SlotInfo) Running() Running {
	return Running{Version: i.Version, Arch: i.Arch, Schema: i.Schema, ReadsSchema: i.ReadsSchema,
		Kinds: i.Kinds, DecodesKinds: i.DecodesKinds}
}

// Slots is a slots directory.
type Slots struct {
	Dir string
	// MaxAttempts is how many starts a trial gets before it is rolled
	// back (0: DefaultMaxAttempts).
	MaxAttempts int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Progress, when set, is told the bytes written of an install.
	Progress func(done, total uint64)
	// AtStep, when set, is called at each step of Install (tests stop
	// the process there).
	AtStep func(Step)
}

// DefaultMaxAttempts is the starts a trial gets by default.
const DefaultMaxAttempts = 3

func (s *Slots) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Slots) step(k Step) {
	if s.AtStep != nil {
		s.AtStep(k)
	}
}

func (s *Slots) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

func (s *Slots) slotPath(slot string) string { return s.path(slotsSubdir, slot) }

// Current returns the slot current points at, or ErrNoSlots.
func (s *Slots) Current() (string, error) {
	t, err := os.Readlink(s.path(CurrentLink))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", ErrNoSlots, s.Dir)
	}
	if err != nil {
		return "", fmt.Errorf("update: %w", err)
	}
	switch t {
	case filepath.Join(slotsSubdir, SlotA):
		return SlotA, nil
	case filepath.Join(slotsSubdir, SlotB):
		return SlotB, nil
	}
	return "", fmt.Errorf("update: %s points at %q, not a slot", s.path(CurrentLink), t)
}

// Other is the slot that is not slot.
func Other(slot string) string {
	if slot == SlotA {
		return SlotB
	}
	return SlotA
}

// Info reads what slot holds.
func (s *Slots) Info(slot string) (SlotInfo, error) {
	b, err := os.ReadFile(s.slotPath(slot) + ".json")
	if err != nil {
		return SlotInfo{}, fmt.Errorf("update: slot %s: %w", slot, err)
	}
	var i SlotInfo
	if err := json.Unmarshal(b, &i); err != nil {
		return SlotInfo{}, fmt.Errorf("update: slot %s info: %w", slot, err)
	}
	return i, nil
}

// Pins returns the pinned release keys.
func (s *Slots) Pins() (protocol.Keys, error) { return loadPins(s.path(PinsFile)) }

// Pin pins the first release key (provisioning's act); once a key is
// pinned, another is taken only by Announce.
func (s *Slots) Pin(pubPEM []byte) (protocol.PublicKey, error) {
	if _, err := s.Pins(); !errors.Is(err, ErrNoPins) {
		if err == nil {
			err = errors.New("a release key is pinned already: add another with an announcement signed by it")
		}
		return protocol.PublicKey{}, fmt.Errorf("update: pin: %w", err)
	}
	pk, err := protocol.DecodePublicKeyPEM(pubPEM)
	if err != nil {
		return protocol.PublicKey{}, fmt.Errorf("update: pin: %w", err)
	}
	pk.KeyID = ReleaseKeyID(pk.Key)
	return pk, s.writePins(protocol.NewKeys(pk))
}

// Announce pins the key an announcement signed by a pinned key names.
func (s *Slots) Announce(msg []byte) (protocol.PublicKey, error) {
	pins, err := s.Pins()
	if err != nil {
		return protocol.PublicKey{}, err
	}
	pk, err := OpenAnnouncement(pins, msg)
	if err != nil {
		return protocol.PublicKey{}, err
	}
	pins[pk.KeyID] = pk
	return pk, s.writePins(pins)
}

func (s *Slots) writePins(keys protocol.Keys) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	b, err := encodePins(keys)
	if err != nil {
		return err
	}
	return writeAtomic(s.path(PinsFile), b, 0o644)
}

// Init makes the slots: binary (the running one, which a technician
// vouches for) into slot a and current pointing at it, committed. It
// refuses slots that exist.
func (s *Slots) Init(binary io.Reader, info SlotInfo) error {
	if _, err := s.Current(); !errors.Is(err, ErrNoSlots) {
		if err == nil {
			err = errors.New("slots exist")
		}
		return fmt.Errorf("update: init: %w", err)
	}
	if err := os.MkdirAll(s.path(slotsSubdir), 0o755); err != nil {
		return fmt.Errorf("update: init: %w", err)
	}
	size, sum, err := s.writeSlot(SlotA, binary, 0, nil)
	if err != nil {
		return err
	}
	info.Size, info.SHA256, info.Installed = size, sum, s.now().UTC()
	if err := s.writeInfo(SlotA, info); err != nil {
		return err
	}
	return switchLink(s.path(CurrentLink), filepath.Join(slotsSubdir, SlotA), nil)
}

// Release is a verified release ready to install: its manifest, the bytes
// signed, and the key that signed them.
type Release struct {
	Manifest Manifest
	Signed   []byte
	KeyID    string
}

// Open verifies a signed manifest against the pinned keys and checks the
// release against the current slot (CheckRelease); it installs nothing.
func (s *Slots) Open(signed []byte) (Release, error) {
	pins, err := s.Pins()
	if err != nil {
		return Release{}, err
	}
	m, h, err := OpenManifest(pins, signed)
	if err != nil {
		return Release{}, err
	}
	cur, err := s.Current()
	if err != nil {
		return Release{}, err
	}
	info, err := s.Info(cur)
	if err != nil {
		return Release{}, err
	}
	if err := CheckRelease(m, info.Running()); err != nil {
		return Release{}, err
	}
	return Release{Manifest: m, Signed: signed, KeyID: h.KeyID}, nil
}

// Install writes the binary of rel from r into the inactive slot,
// checking its size and SHA-256 as it goes, fsyncs it and the directory,
// records the trial, and switches current to it by renaming a temporary
// link over it. Any refusal leaves current and its slot as they were.
// While a trial runs it refuses (the inactive slot is the rollback).
func (s *Slots) Install(rel Release, r io.Reader) (slot string, err error) {
	cur, err := s.Current()
	if err != nil {
		return "", err
	}
	st, err := s.State()
	if err != nil {
		return "", err
	}
	if st.Phase == PhaseTrial && st.To == cur {
		return "", fmt.Errorf("%w: slot %s (%s) is not committed yet", ErrTrialActive, st.To, st.ToVersion)
	}
	from, err := s.Info(cur)
	if err != nil {
		return "", err
	}
	// Check again: the slots may have changed since Open.
	if err := CheckRelease(rel.Manifest, from.Running()); err != nil {
		return "", err
	}
	m := rel.Manifest
	slot = Other(cur)
	size, sum, err := s.writeSlot(slot, r, m.Size, m.SHA256)
	if err != nil {
		return "", err
	}
	info := SlotInfo{Version: m.Version, Arch: m.Arch, Size: size, SHA256: sum, Schema: m.Schema,
		ReadsSchema: m.ReadsSchema, Kinds: m.Kinds, DecodesKinds: m.DecodesKinds,
		Installed: s.now().UTC(), Manifest: rel.Signed, KeyID: rel.KeyID}
	if err := s.writeInfo(slot, info); err != nil {
		return "", err
	}
	s.step(StepInfoWritten)
	max := s.MaxAttempts
	if max <= 0 {
		max = DefaultMaxAttempts
	}
	trial := State{Phase: PhaseTrial, From: cur, To: slot, FromVersion: from.Version, ToVersion: m.Version,
		MaxAttempts: max, Since: s.now().UTC()}
	if st.Phase != PhaseNone {
		prev := st
		prev.Last = nil
		trial.Last = &prev
	}
	if err := s.writeState(trial); err != nil {
		return "", err
	}
	s.step(StepTrialWritten)
	if err := switchLink(s.path(CurrentLink), filepath.Join(slotsSubdir, slot), func() { s.step(StepLinkMade) }); err != nil {
		return "", err
	}
	s.step(StepSwitched)
	return slot, nil
}

// writeSlot copies r into slot through a temporary file: at most want
// bytes when want > 0 (ErrSize beyond or short of it), hashed while
// written and fsynced. The slot is replaced only when the size and, when
// wantHash is given, the SHA-256 are right (ErrSize, ErrHash otherwise,
// the slot untouched).
func (s *Slots) writeSlot(slot string, r io.Reader, want uint64, wantHash []byte) (uint64, string, error) {
	dir := s.path(slotsSubdir)
	s.cleanTemps(dir)
	f, err := os.CreateTemp(dir, "."+slot+".tmp*")
	if err != nil {
		return 0, "", fmt.Errorf("update: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	h := sha256.New()
	limit := uint64(MaxBinarySize)
	if want > 0 {
		limit = want
	}
	var n uint64
	buf := make([]byte, 256<<10)
	halfway := false
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if n+uint64(k) > limit {
				f.Close()
				return 0, "", fmt.Errorf("%w: more than %d bytes", ErrSize, limit)
			}
			if _, err := f.Write(buf[:k]); err != nil {
				f.Close()
				return 0, "", fmt.Errorf("update: write %s: %w", tmp, err)
			}
			h.Write(buf[:k])
			n += uint64(k)
			if s.Progress != nil {
				s.Progress(n, want)
			}
			if !halfway && want > 0 && n >= want/2 {
				halfway = true
				s.step(StepWritten)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return 0, "", fmt.Errorf("update: read binary: %w", rerr)
		}
	}
	if want > 0 && n != want {
		f.Close()
		return 0, "", fmt.Errorf("%w: %d bytes, manifest %d", ErrSize, n, want)
	}
	sum := h.Sum(nil)
	if err := f.Chmod(0o755); err != nil {
		f.Close()
		return 0, "", fmt.Errorf("update: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, "", fmt.Errorf("update: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, "", fmt.Errorf("update: %w", err)
	}
	s.step(StepSynced)
	if wantHash != nil && subtle.ConstantTimeCompare(sum, wantHash) != 1 {
		return 0, "", fmt.Errorf("%w: got sha256:%x", ErrHash, sum)
	}
	if err := os.Rename(tmp, s.slotPath(slot)); err != nil {
		return 0, "", fmt.Errorf("update: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, "", err
	}
	s.step(StepSlotRenamed)
	return n, fmt.Sprintf("%x", sum), nil
}

func (s *Slots) cleanTemps(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func (s *Slots) writeInfo(slot string, i SlotInfo) error {
	b, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return writeAtomic(s.slotPath(slot)+".json", append(b, '\n'), 0o644)
}
