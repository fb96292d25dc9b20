package update

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
)

// seeded is a deterministic reader for keys.
type seeded byte

func (s seeded) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s) + byte(i)
	}
	return len(p), nil
}

func releaseKey(t testing.TB, seed byte) (*protocol.Signer, []byte) {
	t.Helper()
	priv, pub, fp, err := NewReleaseKey(seeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !protocol.ValidFingerprint(fp) {
		t.Fatalf("fingerprint %q", fp)
	}
	s, err := SignerFromPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

func testManifest(bin []byte, version string) Manifest {
	h := sha256.Sum256(bin)
	return Manifest{Version: version, Arch: "linux/arm", Size: uint64(len(bin)), SHA256: h[:], File: "yktd-" + version,
		Notes: "修复 / fixes", Schema: 6, ReadsSchema: 6, Kinds: 19, DecodesKinds: 19}
}

func TestVersionCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0}, {"v1.2.3", "1.2.3", 0}, {"1.2", "1.2.0", 0},
		{"1.10.0", "1.9.9", 1}, {"2.0.0", "10.0.0", -1}, {"1.2.3-rc.1", "1.2.3", -1},
		{"1.2.3-rc.2", "1.2.3-rc.1", 1}, {"dev", "0.0.1", -1},
	} {
		if got := RunningVersion(c.a).Compare(RunningVersion(c.b)); got != c.want {
			t.Errorf("%s vs %s: %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, bad := range []string{"", "1..2", "01.2", "1.2.3.4.5", "1.2-", "1.2-ä", "x1"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestManifestSignVerify(t *testing.T) {
	s, pub := releaseKey(t, 1)
	other, _ := releaseKey(t, 2)
	pins, err := ParsePins(pub)
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest([]byte("binary"), "1.2.0")
	msg, err := SignManifest(s, m)
	if err != nil {
		t.Fatal(err)
	}
	got, h, err := OpenManifest(pins, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "1.2.0" || got.Notes != m.Notes || h.KeyID != s.KeyID() {
		t.Fatalf("opened %+v %+v", got, h)
	}
	// Another release key, not pinned.
	msg2, _ := SignManifest(other, m)
	if _, _, err := OpenManifest(pins, msg2); !errors.Is(err, ErrSignature) {
		t.Fatalf("unpinned key: %v", err)
	}
	// A flipped bit in the signature.
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	if _, _, err := OpenManifest(pins, bad); !errors.Is(err, ErrSignature) || protocol.CodeOf(err) != protocol.CodeBadSignature {
		t.Fatalf("bad signature: %v", err)
	}
	// A ledger or device key never signs a release.
	dev, err := protocol.NewSigner("dev-0001", protocol.AlgEd25519, must(protocol.GenerateKey(protocol.AlgEd25519, seeded(3))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignManifest(dev, m); err == nil {
		t.Fatal("a device key signed a manifest")
	}
	// The same key signing another content type (an announcement) is no manifest.
	ann, err := SignAnnouncement(s, pub, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenManifest(pins, ann); !errors.Is(err, ErrSignature) {
		t.Fatalf("announcement as manifest: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestCheckRelease(t *testing.T) {
	run := Running{Version: "1.2.0", Arch: "linux/arm", Schema: 6, ReadsSchema: 6, Kinds: 19, DecodesKinds: 19}
	base := testManifest([]byte("x"), "1.3.0")
	for _, c := range []struct {
		name string
		edit func(*Manifest)
		want error
	}{
		{"newer", func(*Manifest) {}, nil},
		{"other arch", func(m *Manifest) { m.Arch = "linux/arm64" }, ErrArch},
		{"same", func(m *Manifest) { m.Version = "1.2.0" }, ErrNotNewer},
		{"older", func(m *Manifest) { m.Version = "1.1.9" }, ErrNotNewer},
		{"signed downgrade", func(m *Manifest) { m.Version, m.Downgrade = "1.1.9", true }, nil},
		{"downgrade to same", func(m *Manifest) { m.Version, m.Downgrade = "1.2.0", true }, ErrNotNewer},
		{"min from ok", func(m *Manifest) { m.MinFrom = "1.2.0" }, nil},
		{"min from too old", func(m *Manifest) { m.MinFrom = "1.2.1" }, ErrTooOld},
		{"writes newer schema", func(m *Manifest) { m.Schema, m.ReadsSchema = 7, 7 }, ErrIncompat},
		{"reads newer schema, writes same", func(m *Manifest) { m.ReadsSchema = 7 }, nil},
		{"writes a new kind", func(m *Manifest) { m.Kinds, m.DecodesKinds = 20, 20 }, ErrIncompat},
		{"cannot read the store", func(m *Manifest) { m.Schema, m.ReadsSchema = 5, 5 }, ErrIncompat},
	} {
		m := base
		c.edit(&m)
		err := CheckRelease(m, run)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestManifestRefusals(t *testing.T) {
	base := testManifest([]byte("x"), "1.3.0")
	for name, edit := range map[string]func(*Manifest){
		"no version": func(m *Manifest) { m.Version = "" },
		"bad arch":   func(m *Manifest) { m.Arch = "arm" },
		"zero size":  func(m *Manifest) { m.Size = 0 },
		"short hash": func(m *Manifest) { m.SHA256 = m.SHA256[:8] },
		"path file":  func(m *Manifest) { m.File = "../yktd" },
		"long notes": func(m *Manifest) { m.Notes = string(make([]byte, MaxNotesLen+1)) },
		"reads less": func(m *Manifest) { m.ReadsSchema = 5 },
	} {
		m := base
		edit(&m)
		if _, err := m.Encode(); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, b := range map[string][]byte{"empty": nil, "not cbor": []byte("{}"), "array": {0x80}, "unknown field": {0xa1, 0x18, 0x63, 0x01}} {
		if _, err := DecodeManifest(b); !errors.Is(err, ErrManifest) {
			t.Errorf("decode %s: %v", name, err)
		}
	}
}

func TestPinsAndAnnouncement(t *testing.T) {
	dir := t.TempDir()
	sl := &Slots{Dir: dir}
	if _, err := sl.Pins(); !errors.Is(err, ErrNoPins) {
		t.Fatalf("no pins: %v", err)
	}
	s1, pub1 := releaseKey(t, 1)
	s2, pub2 := releaseKey(t, 2)
	_, pub3 := releaseKey(t, 3)
	if _, err := sl.Pin(pub1); err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Pin(pub2); err == nil {
		t.Fatal("a second key pinned without an announcement")
	}
	// An announcement signed by an unpinned key is refused, nothing changes.
	before, _ := os.ReadFile(filepath.Join(dir, PinsFile))
	bad, _ := SignAnnouncement(s2, pub3, "")
	if _, err := sl.Announce(bad); !errors.Is(err, ErrSignature) {
		t.Fatalf("unpinned announcer: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, PinsFile))
	if !bytes.Equal(before, after) {
		t.Fatal("refused announcement changed the pins")
	}
	ok, _ := SignAnnouncement(s1, pub2, "rotation 2026")
	pk, err := sl.Announce(ok)
	if err != nil {
		t.Fatal(err)
	}
	if pk.KeyID != s2.KeyID() {
		t.Fatalf("announced %q, want %q", pk.KeyID, s2.KeyID())
	}
	pins, err := sl.Pins()
	if err != nil || len(pins) != 2 {
		t.Fatalf("pins %v %v", pins, err)
	}
	m := testManifest([]byte("b"), "2.0.0")
	msg, _ := SignManifest(s2, m)
	if _, _, err := OpenManifest(pins, msg); err != nil {
		t.Fatalf("the announced key does not verify: %v", err)
	}
}

// slotsWith makes slots in a temp dir, initialised with a v1 binary,
// and a pinned release key.
func slotsWith(t testing.TB) (*Slots, *protocol.Signer, []byte) {
	t.Helper()
	s, pub := releaseKey(t, 1)
	sl := &Slots{Dir: t.TempDir(), MaxAttempts: 2, Now: func() time.Time { return time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC) }}
	if _, err := sl.Pin(pub); err != nil {
		t.Fatal(err)
	}
	v1 := []byte("#!binary v1\n")
	if err := sl.Init(bytes.NewReader(v1), SlotInfo{Version: "1.0.0", Arch: "linux/arm", Schema: 6, ReadsSchema: 6, Kinds: 19, DecodesKinds: 19}); err != nil {
		t.Fatal(err)
	}
	if err := sl.Init(bytes.NewReader(v1), SlotInfo{}); err == nil {
		t.Fatal("Init over existing slots")
	}
	return sl, s, v1
}

// snapshot is the content of every file in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			m[p] = "-> " + l
			return nil
		}
		b, _ := os.ReadFile(p)
		m[p] = string(b)
		return nil
	})
	return m
}

func TestInstallRefusalsChangeNothing(t *testing.T) {
	sl, key, _ := slotsWith(t)
	bin := []byte("#!binary v2, longer\n")
	m := testManifest(bin, "1.1.0")
	msg, _ := SignManifest(key, m)
	rel, err := sl.Open(msg)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, sl.Dir)
	wrong := bytes.Clone(bin)
	wrong[3] ^= 1
	for name, c := range map[string]struct {
		body []byte
		want error
	}{
		"wrong hash": {wrong, ErrHash},
		"truncated":  {bin[:len(bin)-3], ErrSize},
		"too long":   {append(bytes.Clone(bin), 'x'), ErrSize},
	} {
		if _, err := sl.Install(rel, bytes.NewReader(c.body)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if after := snapshot(t, sl.Dir); !equalMaps(before, after) {
			t.Errorf("%s changed the slots:\nbefore %v\nafter  %v", name, before, after)
		}
	}
	old := testManifest(bin, "0.9.0")
	msgOld, _ := SignManifest(key, old)
	if _, err := sl.Open(msgOld); !errors.Is(err, ErrNotNewer) {
		t.Fatalf("downgrade: %v", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTrialCommitAndRollback(t *testing.T) {
	sl, key, v1 := slotsWith(t)
	bin := []byte("#!binary v2\n")
	steps := []Step{}
	sl.AtStep = func(k Step) { steps = append(steps, k) }
	rel, err := sl.Open(must(SignManifest(key, testManifest(bin, "1.1.0"))))
	if err != nil {
		t.Fatal(err)
	}
	slot, err := sl.Install(rel, bytes.NewReader(bin))
	if err != nil || slot != SlotB {
		t.Fatalf("install: %s %v", slot, err)
	}
	if len(steps) != 7 {
		t.Fatalf("steps %v", steps)
	}
	if got, _ := os.ReadFile(filepath.Join(sl.Dir, CurrentLink)); !bytes.Equal(got, bin) {
		t.Fatalf("current holds %q", got)
	}
	// Another install during the trial is refused: its target is the rollback.
	if _, err := sl.Install(rel, bytes.NewReader(bin)); !errors.Is(err, ErrTrialActive) {
		t.Fatalf("install during trial: %v", err)
	}
	// The old binary started by hand does not count.
	if trial, err := sl.Start("1.0.0", false); trial || err != nil {
		t.Fatalf("old binary: %v %v", trial, err)
	}
	// Start hook counts, the binary then does not.
	if trial, err := sl.Start("", true); !trial || err != nil {
		t.Fatalf("pre: %v %v", trial, err)
	}
	if trial, err := sl.Start("1.1.0", false); !trial || err != nil {
		t.Fatalf("start: %v %v", trial, err)
	}
	st, _ := sl.State()
	if st.Attempts != 1 || st.PreCounted {
		t.Fatalf("after one start: %+v", st)
	}
	if trial, err := sl.Start("1.1.0", false); !trial || err != nil { // crashed once, second try
		t.Fatalf("start 2: %v %v", trial, err)
	}
	// Third start: out of attempts (MaxAttempts 2), rolled back.
	if _, err := sl.Start("1.1.0", false); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("third start: %v", err)
	}
	if cur, _ := sl.Current(); cur != SlotA {
		t.Fatalf("current %s after rollback", cur)
	}
	if got, _ := os.ReadFile(filepath.Join(sl.Dir, CurrentLink)); !bytes.Equal(got, v1) {
		t.Fatal("current is not v1 after rollback")
	}
	st, _ = sl.State()
	if st.Phase != PhaseRolledBack || st.Reason == "" {
		t.Fatalf("state %+v", st)
	}
	// The same release again: install, one start, health check passes, commit.
	sl.AtStep = nil
	if _, err := sl.Install(rel, bytes.NewReader(bin)); err != nil {
		t.Fatal(err)
	}
	if trial, err := sl.Start("1.1.0", false); !trial || err != nil {
		t.Fatalf("start: %v %v", trial, err)
	}
	if err := sl.Commit(); err != nil {
		t.Fatal(err)
	}
	st, _ = sl.State()
	if st.Phase != PhaseCommitted || st.Last == nil || st.Last.Phase != PhaseRolledBack {
		t.Fatalf("committed state %+v", st)
	}
	if trial, err := sl.Start("1.1.0", false); trial || err != nil {
		t.Fatalf("after commit: %v %v", trial, err)
	}
	if err := sl.Rollback("late"); err == nil {
		t.Fatal("rollback after commit")
	}
}

func TestDecideStart(t *testing.T) {
	trial := State{Phase: PhaseTrial, From: SlotA, To: SlotB, ToVersion: "2", MaxAttempts: 3}
	for _, c := range []struct {
		name     string
		st       State
		cur, ver string
		pre      bool
		want     Action
		attempts int
	}{
		{"no trial", State{}, SlotA, "1", false, ActNone, 0},
		{"committed", State{Phase: PhaseCommitted, To: SlotB}, SlotB, "2", false, ActNone, 0},
		{"cut before switch", trial, SlotA, "1", false, ActAbandon, 0},
		{"first start", trial, SlotB, "2", false, ActTrial, 1},
		{"other version", trial, SlotB, "1", false, ActNone, 0},
		{"pre", trial, SlotB, "", true, ActTrial, 1},
		{"after pre", State{Phase: PhaseTrial, To: SlotB, ToVersion: "2", MaxAttempts: 3, Attempts: 1, PreCounted: true}, SlotB, "2", false, ActTrial, 1},
		{"out of attempts", State{Phase: PhaseTrial, From: SlotA, To: SlotB, ToVersion: "2", MaxAttempts: 3, Attempts: 3}, SlotB, "2", false, ActRollback, 3},
		{"rollback cut", State{Phase: PhaseRolledBack, From: SlotA, To: SlotB}, SlotB, "2", false, ActFinishRollback, 0},
		{"rolled back", State{Phase: PhaseRolledBack, From: SlotA, To: SlotB}, SlotA, "1", false, ActNone, 0},
	} {
		act, next := decideStart(c.st, c.cur, c.ver, c.pre)
		if act != c.want || next.Attempts != c.attempts {
			t.Errorf("%s: %v attempts %d, want %v %d", c.name, act, next.Attempts, c.want, c.attempts)
		}
	}
}
