package update

import (
	"bytes"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/openykt/yktd/protocol"
)

// ReleaseKeyID is the key id of a release key: "release-" and the first
// 16 hex digits of its fingerprint, so that it never collides with a
// device id or the ledger's key id.
func ReleaseKeyID(pub []byte) string {
	fp := protocol.Fingerprint(pub)
	return releaseKeyPrefix + strings.TrimPrefix(fp, "sha256:")[:16]
}

// NewReleaseKey makes an Ed25519 release key from r (nil: crypto/rand)
// and returns its private key file, its public key file (with the key id)
// and its fingerprint.
func NewReleaseKey(r io.Reader) (privPEM, pubPEM []byte, fingerprint string, err error) {
	if r == nil {
		r = rand.Reader
	}
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, r)
	if err != nil {
		return nil, nil, "", fmt.Errorf("update: release key: %w", err)
	}
	s, err := signerOf(protocol.AlgEd25519, priv)
	if err != nil {
		return nil, nil, "", err
	}
	if privPEM, err = protocol.EncodePrivateKeyPEM(protocol.AlgEd25519, priv); err != nil {
		return nil, nil, "", fmt.Errorf("update: release key: %w", err)
	}
	pk := s.PublicKey()
	if pubPEM, err = protocol.EncodePublicKeyPEM(pk); err != nil {
		return nil, nil, "", fmt.Errorf("update: release key: %w", err)
	}
	return privPEM, pubPEM, protocol.Fingerprint(pk.Key), nil
}

// SignerFromPEM returns the signer of a release key file.
func SignerFromPEM(b []byte) (*protocol.Signer, error) {
	alg, priv, err := protocol.DecodePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("update: release key: %w", err)
	}
	return signerOf(alg, priv)
}

func signerOf(alg int64, priv []byte) (*protocol.Signer, error) {
	probe, err := protocol.NewSigner("probe", alg, priv)
	if err != nil {
		return nil, fmt.Errorf("update: release key: %w", err)
	}
	s, err := protocol.NewSigner(ReleaseKeyID(probe.PublicKey().Key), alg, priv)
	if err != nil {
		return nil, fmt.Errorf("update: release key: %w", err)
	}
	return s, nil
}

// ParsePins parses a pinned-keys file: YKTD PUBLIC KEY blocks, each a
// release key whose key id is ReleaseKeyID of the key.
func ParsePins(b []byte) (protocol.Keys, error) {
	keys := protocol.Keys{}
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		pk, err := protocol.DecodePublicKeyPEM(pem.EncodeToMemory(blk))
		if err != nil {
			return nil, fmt.Errorf("update: pinned keys: %w", err)
		}
		if pk.KeyID == "" {
			pk.KeyID = ReleaseKeyID(pk.Key)
		}
		if pk.KeyID != ReleaseKeyID(pk.Key) {
			return nil, fmt.Errorf("update: pinned keys: key id %q is not that of its key", pk.KeyID)
		}
		keys[pk.KeyID] = pk
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("update: pinned keys: trailing bytes that are no PEM block")
	}
	return keys, nil
}

// encodePins is the file form of keys, in key id order.
func encodePins(keys protocol.Keys) ([]byte, error) {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []byte
	for _, id := range ids {
		b, err := protocol.EncodePublicKeyPEM(keys[id])
		if err != nil {
			return nil, fmt.Errorf("update: pinned keys: %w", err)
		}
		out = append(out, b...)
	}
	return out, nil
}

// KeyAnnouncement adds a release key: signed by a pinned release key, it
// tells devices to pin Key too (a key rotation).
type KeyAnnouncement struct {
	Alg  int64  `cbor:"1,keyasint"`
	Key  []byte `cbor:"2,keyasint"`
	Note string `cbor:"3,keyasint,omitempty"`
}

// SignAnnouncement returns the announcement of the public key pub (a
// public key file) signed by the pinned release key s.
func SignAnnouncement(s *protocol.Signer, pubPEM []byte, note string) ([]byte, error) {
	pk, err := protocol.DecodePublicKeyPEM(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("update: announce: %w", err)
	}
	if len(note) > MaxNotesLen {
		return nil, fmt.Errorf("update: announce: note too long")
	}
	b, err := manifestEnc.Marshal(KeyAnnouncement{Alg: pk.Alg, Key: pk.Key, Note: note})
	if err != nil {
		return nil, fmt.Errorf("update: announce: %w", err)
	}
	return protocol.Sign(s, TypeKeyAnnounce, b, []byte(releaseAAD), 0)
}

// OpenAnnouncement verifies an announcement against the pinned keys and
// returns the key it announces.
func OpenAnnouncement(pins protocol.KeySet, msg []byte) (protocol.PublicKey, error) {
	_, payload, err := protocol.Verify(pins, msg, []byte(releaseAAD), TypeKeyAnnounce)
	if err != nil {
		return protocol.PublicKey{}, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	var a KeyAnnouncement
	if len(payload) > MaxManifestSize {
		return protocol.PublicKey{}, fmt.Errorf("%w: announcement too large", ErrManifest)
	}
	if err := manifestDec.Unmarshal(payload, &a); err != nil {
		return protocol.PublicKey{}, fmt.Errorf("%w: announcement: %w", ErrManifest, err)
	}
	pk := protocol.PublicKey{Alg: a.Alg, Key: a.Key}
	pk.KeyID = ReleaseKeyID(a.Key)
	if _, err := protocol.EncodePublicKeyPEM(pk); err != nil { // the key parses under its suite
		return protocol.PublicKey{}, fmt.Errorf("%w: announced key: %w", ErrManifest, err)
	}
	return pk, nil
}

// loadPins reads the pinned keys at path; ErrNoPins when there are none.
func loadPins(path string) (protocol.Keys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoPins, path)
	}
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	keys, err := ParsePins(b)
	if err == nil && len(keys) == 0 {
		err = fmt.Errorf("%w: %s is empty", ErrNoPins, path)
	}
	return keys, err
}
