package update

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeManifest: the manifest decoder takes outside bytes (a USB
// stick, a download). It never panics, and what it accepts re-encodes to
// bytes that decode to the same manifest.
func FuzzDecodeManifest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "manifest-*.cbor"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/manifest-*.cbor")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		again, err := DecodeManifest(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		enc2, _ := again.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding not stable")
		}
	})
}

// TestWriteManifestSeeds keeps the fuzz seeds: run with -update-seeds to
// write them again.
func TestManifestSeeds(t *testing.T) {
	m := testManifest([]byte("binary"), "1.2.0")
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m2 := m
	m2.MinFrom, m2.Downgrade, m2.Notes = "1.0.0", true, ""
	b2, _ := m2.Encode()
	for name, want := range map[string][]byte{"manifest-full.cbor": b, "manifest-downgrade.cbor": b2} {
		p := filepath.Join("testdata", name)
		if os.Getenv("UPDATE_SEEDS") == "1" {
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (UPDATE_SEEDS=1 writes it)", err)
		}
		if _, err := DecodeManifest(got); err != nil {
			t.Fatalf("seed %s does not decode: %v", name, err)
		}
	}
}
