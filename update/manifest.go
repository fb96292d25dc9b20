package update

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/openykt/yktd/protocol"
)

// Content types and the external AAD of the messages of this package: a
// ledger or device signature (other types, other AAD) never verifies as a
// release.
const (
	TypeManifest     = "application/yktd-release+cbor"
	TypeKeyAnnounce  = "application/yktd-release-key+cbor"
	releaseAAD       = "yktd-release"
	MaxManifestSize  = 8 << 10 // bytes of payload
	MaxNotesLen      = 4 << 10
	MaxBinarySize    = 256 << 20
	maxFileNameLen   = 128
	maxArchLen       = 32
	releaseKeyPrefix = "release-"
)

// Errors callers decide on with errors.Is. Each refusal leaves the slots
// as they were.
var (
	ErrManifest    = errors.New("update: manifest refused")
	ErrSignature   = errors.New("update: release signature refused")
	ErrArch        = errors.New("update: release is for another architecture")
	ErrNotNewer    = errors.New("update: release is not newer than the running version")
	ErrTooOld      = errors.New("update: running version is older than the release upgrades from")
	ErrIncompat    = errors.New("update: the running binary could not read what the release writes")
	ErrSize        = errors.New("update: binary size differs from the manifest")
	ErrHash        = errors.New("update: binary SHA-256 differs from the manifest")
	ErrNoPins      = errors.New("update: no release key is pinned")
	ErrTrialActive = errors.New("update: a trial is in progress")
	ErrNoSlots     = errors.New("update: slots not initialised")
)

// Manifest describes one release: the binary for one architecture and
// what the device checks before it installs it. The store and journal
// fields carry the rule that the previous binary can run on what a trial
// leaves (docs/architecture.md): a release writes no store schema and no
// record kind the running binary cannot read.
type Manifest struct {
	Version string `cbor:"1,keyasint"`
	Arch    string `cbor:"2,keyasint"` // GOOS/GOARCH, e.g. linux/arm
	Size    uint64 `cbor:"3,keyasint"`
	SHA256  []byte `cbor:"4,keyasint"`
	// File is the binary's file name beside the manifest.
	File string `cbor:"5,keyasint"`
	// MinFrom is the oldest version this release upgrades from ("" any).
	MinFrom string `cbor:"6,keyasint,omitempty"`
	Notes   string `cbor:"7,keyasint,omitempty"`
	// Downgrade: the release may replace a newer version (signed intent).
	Downgrade bool `cbor:"8,keyasint,omitempty"`
	// Schema is the store schema the binary writes, ReadsSchema the
	// highest it opens; Kinds the highest journal record kind it writes,
	// DecodesKinds the highest it decodes.
	Schema       uint64 `cbor:"9,keyasint"`
	ReadsSchema  uint64 `cbor:"10,keyasint"`
	Kinds        uint64 `cbor:"11,keyasint"`
	DecodesKinds uint64 `cbor:"12,keyasint"`
}

var (
	manifestEnc cbor.EncMode
	manifestDec = protocol.MustStrictDecMode(protocol.DecLimits{Nesting: 4, ArrayElements: 16, MapPairs: 16})
)

func init() {
	var err error
	if manifestEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
}

// Validate checks the fields for form (not against a device).
func (m *Manifest) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(f, a...)) }
	if _, err := ParseVersion(m.Version); err != nil {
		return bad("version: %v", err)
	}
	if m.MinFrom != "" {
		if _, err := ParseVersion(m.MinFrom); err != nil {
			return bad("min version: %v", err)
		}
	}
	if !validArch(m.Arch) {
		return bad("architecture %q", m.Arch)
	}
	if m.Size == 0 || m.Size > MaxBinarySize {
		return bad("size %d", m.Size)
	}
	if len(m.SHA256) != sha256.Size {
		return bad("sha256 of %d bytes", len(m.SHA256))
	}
	if !validFileName(m.File) {
		return bad("file name %q", m.File)
	}
	if len(m.Notes) > MaxNotesLen {
		return bad("notes of %d bytes", len(m.Notes))
	}
	if m.ReadsSchema < m.Schema || m.DecodesKinds < m.Kinds {
		return bad("reads schema %d < writes %d, or decodes kinds %d < writes %d", m.ReadsSchema, m.Schema, m.DecodesKinds, m.Kinds)
	}
	return nil
}

func validArch(a string) bool {
	os, arch, ok := strings.Cut(a, "/")
	return ok && len(a) <= maxArchLen && lowerAlnum(os) && lowerAlnum(arch)
}

func lowerAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validFileName(s string) bool {
	if s == "" || len(s) > maxFileNameLen || s[0] == '.' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Encode returns the canonical CBOR of a valid manifest.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := manifestEnc.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("update: encode manifest: %w", err)
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrManifest, len(b))
	}
	return b, nil
}

// DecodeManifest decodes and validates a manifest payload from outside.
func DecodeManifest(b []byte) (Manifest, error) {
	if len(b) == 0 || len(b) > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%w: payload of %d bytes", ErrManifest, len(b))
	}
	var m Manifest
	if err := manifestDec.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// SignManifest returns the COSE_Sign1 of m signed by a release key.
func SignManifest(s *protocol.Signer, m Manifest) ([]byte, error) {
	if !strings.HasPrefix(s.KeyID(), releaseKeyPrefix) {
		return nil, fmt.Errorf("update: sign manifest: key %q is not a release key", s.KeyID())
	}
	b, err := m.Encode()
	if err != nil {
		return nil, err
	}
	return protocol.Sign(s, TypeManifest, b, []byte(releaseAAD), 0)
}

// OpenManifest verifies a signed manifest against the pinned keys and
// decodes it. It checks form and signature only; CheckRelease decides
// whether this device takes it.
func OpenManifest(pins protocol.KeySet, msg []byte) (Manifest, protocol.Header, error) {
	h, payload, err := protocol.Verify(pins, msg, []byte(releaseAAD), TypeManifest)
	if err != nil {
		return Manifest{}, h, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	m, err := DecodeManifest(payload)
	return m, h, err
}

// Running is what the device runs now: the binary a rollback returns to.
type Running struct {
	Version string
	Arch    string
	// Schema and Kinds are what the running binary writes (the store
	// holds them now); ReadsSchema and DecodesKinds what it reads.
	Schema       uint64
	ReadsSchema  uint64
	Kinds        uint64
	DecodesKinds uint64
}

// CheckRelease decides whether a device running r takes release m: the
// architecture matches; the version is newer than the running one, unless
// m is a signed downgrade; the running version is at least m.MinFrom; and
// what m writes (store schema, record kinds) the running binary reads, so
// that a rollback finds a store and journal it can open, and the release
// reads what the running binary wrote. Pure.
func CheckRelease(m Manifest, r Running) error {
	if m.Arch != r.Arch {
		return fmt.Errorf("%w: release %s, device %s", ErrArch, m.Arch, r.Arch)
	}
	nv, err := ParseVersion(m.Version)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrManifest, err)
	}
	rv := RunningVersion(r.Version)
	if c := nv.Compare(rv); c <= 0 && !(m.Downgrade && c < 0) {
		return fmt.Errorf("%w: release %s, running %s", ErrNotNewer, m.Version, r.Version)
	}
	if m.MinFrom != "" {
		min, _ := ParseVersion(m.MinFrom)
		if rv.Compare(min) < 0 {
			return fmt.Errorf("%w: running %s, release %s needs at least %s", ErrTooOld, r.Version, m.Version, m.MinFrom)
		}
	}
	if m.Schema > r.ReadsSchema {
		return fmt.Errorf("%w: release writes store schema %d, running binary opens up to %d", ErrIncompat, m.Schema, r.ReadsSchema)
	}
	if m.Kinds > r.DecodesKinds {
		return fmt.Errorf("%w: release writes record kind %d, running binary decodes up to %d", ErrIncompat, m.Kinds, r.DecodesKinds)
	}
	if r.Schema > m.ReadsSchema || r.Kinds > m.DecodesKinds {
		return fmt.Errorf("%w: the store holds schema %d and kinds up to %d, the release reads schema %d and kinds up to %d",
			ErrIncompat, r.Schema, r.Kinds, m.ReadsSchema, m.DecodesKinds)
	}
	return nil
}
