package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"github.com/openykt/yktd/update"
)

// What this build's store and journal write and read, for the releases it
// makes and the slots it initialises (the rule of docs/architecture.md
// "Updates": a release writes nothing the previous binary cannot read).
// TestUpdateSchemaKnown keeps them equal to the store's and the protocol's.
const (
	buildStoreSchema = 6
	buildRecordKinds = 19
)

// defaultSlotsDir is where a device keeps its slots.
const defaultSlotsDir = "/var/lib/yktd/update"

// updateKillAtEnv, for tests only, names an install step (1-7) at which
// `yktd update apply` kills itself with SIGKILL.
const updateKillAtEnv = "YKTD_UPDATE_KILL_AT"

const updateUsage = `usage: yktd update <keygen|release|announce|pin|trust|init|apply|status|boot> [arguments]   (docs/update.md)

release manager (not on a device):
  keygen  --out FILE                       make a release key (FILE, FILE.pub); prints its fingerprint
  release --key K --binary B --version V --arch OS/ARCH --out DIR
          [--min V] [--notes TEXT] [--downgrade]
          [--schema N] [--reads-schema N] [--kinds N] [--decodes-kinds N]
                                           sign a release: DIR/release.manifest and the binary
  announce --key K --pub NEW.pub --out FILE   sign the announcement of a new release key

device (--slots DIR, default ` + defaultSlotsDir + `):
  pin     --pub FILE                       pin the first release key (provisioning)
  trust   FILE                             pin the key an announcement signed by a pinned key names
  init    [--binary B]                     put this binary (or B) into slot a, committed
  apply   FILE|DIR                         verify a release and install it into the inactive slot
  status                                   the slots, the trial and how the last one ended
  boot                                     the service's start hook: count a trial start, roll back when spent`

func init() {
	register(command{
		name:    "update",
		summary: "signed releases: make them, install them into the A/B slots, trial and rollback",
		run: func(args []string, stdout, stderr io.Writer) error {
			return runSubcommand(args, stdout, stderr, updateUsage, printer(updateUsage), map[string]runFunc{
				"keygen": updateKeygen, "release": updateRelease, "announce": updateAnnounce,
				"pin": updatePin, "trust": updateTrust, "init": updateInit,
				"apply": updateApply, "status": updateStatus, "boot": updateBoot,
			})
		},
	})
}

func updateKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("update keygen", stderr, printer(updateUsage))
	out := fs.String("out", "", "the private key `FILE` (its public key goes to FILE.pub)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return usageError("keygen takes --out FILE")
	}
	priv, pub, fp, err := update.NewReleaseKey(nil)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("%s exists: a release key is never overwritten", *out)
	}
	if err := writeFile0600(*out, priv); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".pub", pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "release key %s\nfingerprint %s\npublic key %s.pub (pin it on devices: yktd update pin --pub)\n",
		*out, fp, *out)
	return nil
}

func loadSigner(path string) (*signerFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := update.SignerFromPEM(b)
	if err != nil {
		return nil, err
	}
	return &signerFile{s}, nil
}

func updateRelease(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("update release", stderr, printer(updateUsage))
	key := fs.String("key", "", "release key `FILE`")
	bin := fs.String("binary", "", "the binary `FILE`")
	ver := fs.String("version", "", "its version")
	arch := fs.String("arch", "", "its OS/ARCH, e.g. linux/arm")
	min := fs.String("min", "", "the oldest version it upgrades from")
	notes := fs.String("notes", "", "release notes")
	down := fs.Bool("downgrade", false, "the release may replace a newer version")
	schema := fs.Uint64("schema", buildStoreSchema, "store schema the binary writes")
	reads := fs.Uint64("reads-schema", 0, "highest store schema it opens (default --schema)")
	kinds := fs.Uint64("kinds", buildRecordKinds, "highest journal record kind it writes")
	decodes := fs.Uint64("decodes-kinds", 0, "highest record kind it decodes (default --kinds)")
	out := fs.String("out", "", "output `DIR`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *key == "" || *bin == "" || *ver == "" || *arch == "" || *out == "" || fs.NArg() != 0 {
		return usageError("release takes --key, --binary, --version, --arch and --out")
	}
	if *reads == 0 {
		*reads = *schema
	}
	if *decodes == 0 {
		*decodes = *kinds
	}
	s, err := loadSigner(*key)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*bin)
	if err != nil {
		return err
	}
	m := update.Manifest{Version: *ver, Arch: *arch, Size: uint64(len(b)), File: "yktd-" + *ver + "-" + archFile(*arch),
		MinFrom: *min, Notes: *notes, Downgrade: *down, Schema: *schema, ReadsSchema: *reads, Kinds: *kinds, DecodesKinds: *decodes}
	m.SHA256 = sha256Of(b)
	signed, err := update.SignManifest(s.Signer, m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, m.File), b, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, releaseManifest), signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "release %s %s: %s (%d bytes, sha256 %x), signed by %s\n", m.Version, m.Arch,
		filepath.Join(*out, m.File), m.Size, m.SHA256, s.KeyID())
	return nil
}

// releaseManifest is the manifest's file name in a release directory.
const releaseManifest = "release.manifest"

func archFile(a string) string {
	b := []byte(a)
	for i, c := range b {
		if c == '/' {
			b[i] = '-'
		}
	}
	return string(b)
}

func updateAnnounce(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("update announce", stderr, printer(updateUsage))
	key := fs.String("key", "", "a pinned release key `FILE`")
	pub := fs.String("pub", "", "the new release key's public key `FILE`")
	note := fs.String("note", "", "why")
	out := fs.String("out", "", "the announcement `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *key == "" || *pub == "" || *out == "" || fs.NArg() != 0 {
		return usageError("announce takes --key, --pub and --out")
	}
	s, err := loadSigner(*key)
	if err != nil {
		return err
	}
	pb, err := os.ReadFile(*pub)
	if err != nil {
		return err
	}
	msg, err := update.SignAnnouncement(s.Signer, pb, *note)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, msg, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "announcement %s signed by %s\n", *out, s.KeyID())
	return nil
}

func slotsFlag(name string, stderr io.Writer) (*flagSetSlots, *string) {
	fs := newFlagSet("update "+name, stderr, printer(updateUsage))
	dir := fs.String("slots", defaultSlotsDir, "the slots `DIR`")
	return &flagSetSlots{fs}, dir
}

func updatePin(args []string, stdout, stderr io.Writer) error {
	fs, dir := slotsFlag("pin", stderr)
	pub := fs.String("pub", "", "the release key's public key `FILE`")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if *pub == "" || fs.NArg() != 0 {
		return usageError("pin takes --pub FILE")
	}
	b, err := os.ReadFile(*pub)
	if err != nil {
		return err
	}
	pk, err := (&update.Slots{Dir: *dir}).Pin(b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pinned release key %s\n", pk.KeyID)
	return nil
}

func updateTrust(args []string, stdout, stderr io.Writer) error {
	fs, dir := slotsFlag("trust", stderr)
	pos, err := parseInterleaved(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("trust takes the announcement FILE")
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	pk, err := (&update.Slots{Dir: *dir}).Announce(b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pinned release key %s (announced)\n", pk.KeyID)
	return nil
}

// buildInfo is what this binary is, for the slot it is initialised into.
func buildInfo() update.SlotInfo {
	return update.SlotInfo{Version: version, Arch: runtime.GOOS + "/" + runtime.GOARCH,
		Schema: buildStoreSchema, ReadsSchema: buildStoreSchema, Kinds: buildRecordKinds, DecodesKinds: buildRecordKinds}
}

func updateInit(args []string, stdout, stderr io.Writer) error {
	fs, dir := slotsFlag("init", stderr)
	bin := fs.String("binary", "", "the binary `FILE` (default: this one)")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("init takes no arguments")
	}
	return initSlots(&update.Slots{Dir: *dir}, *bin, stdout)
}

func initSlots(sl *update.Slots, bin string, stdout io.Writer) error {
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sl.Init(f, buildInfo()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "slots %s: slot a holds %s (yktd %s), current -> slots/a\n", sl.Dir, bin, version)
	return nil
}

func updateApply(args []string, stdout, stderr io.Writer) error {
	fs, dir := slotsFlag("apply", stderr)
	pos, err := parseInterleaved(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("apply takes the release FILE (its manifest) or DIR")
	}
	manifest := pos[0]
	if st, err := os.Stat(manifest); err == nil && st.IsDir() {
		manifest = filepath.Join(manifest, releaseManifest)
	}
	sl := &update.Slots{Dir: *dir}
	if v := os.Getenv(updateKillAtEnv); v != "" {
		k, _ := strconv.Atoi(v)
		sl.AtStep = func(s update.Step) {
			if int(s) == k {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	if _, err := sl.Current(); errors.Is(err, update.ErrNoSlots) {
		if err := initSlots(sl, "", stdout); err != nil {
			return err
		}
	}
	signed, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "verifying %s\n", manifest)
	rel, err := sl.Open(signed)
	if err != nil {
		return fmt.Errorf("release refused, nothing changed: %w", err)
	}
	m := rel.Manifest
	fmt.Fprintf(stdout, "release %s %s, %d bytes, signed by %s\n", m.Version, m.Arch, m.Size, rel.KeyID)
	if m.Notes != "" {
		fmt.Fprintf(stdout, "notes: %s\n", m.Notes)
	}
	bf, err := os.Open(filepath.Join(filepath.Dir(manifest), m.File))
	if err != nil {
		return fmt.Errorf("release refused, nothing changed: %w", err)
	}
	defer bf.Close()
	sl.Progress = progressPrinter(stdout)
	slot, err := sl.Install(rel, bf)
	if err != nil {
		return fmt.Errorf("release refused, nothing changed: %w", err)
	}
	fmt.Fprintf(stdout, "installed %s into slot %s; current -> slots/%s (on trial)\n", m.Version, slot, slot)
	fmt.Fprintf(stdout, "restart yktd to start the trial (systemctl restart yktd; a tap in progress finishes first)\n")
	return nil
}

// progressPrinter prints the bytes written: a bar redrawn in place on a
// terminal, a plain line every 25% otherwise.
func progressPrinter(w io.Writer) func(done, total uint64) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	last := -1
	return func(done, total uint64) {
		if total == 0 {
			return
		}
		pct := int(done * 100 / total)
		if tty {
			if pct != last {
				fmt.Fprintf(w, "\r[%-40s] %3d%%", string(bar(pct*40/100)), pct)
				if pct == 100 {
					fmt.Fprintln(w)
				}
			}
		} else if pct/25 != last/25 {
			fmt.Fprintf(w, "writing: %d%% (%d of %d bytes)\n", pct, done, total)
		}
		last = pct
	}
}

func bar(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = '#'
	}
	return b
}

func updateStatus(args []string, stdout, stderr io.Writer) error {
	fs, dir := slotsFlag("status", stderr)
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("status takes no arguments")
	}
	sl := &update.Slots{Dir: *dir}
	cur, err := sl.Current()
	if err != nil {
		return err
	}
	for _, s := range []string{update.SlotA, update.SlotB} {
		mark := " "
		if s == cur {
			mark = "*"
		}
		if i, err := sl.Info(s); err == nil {
			fmt.Fprintf(stdout, "%s slot %s: yktd %s %s, %d bytes, sha256 %s, installed %s\n", mark, s, i.Version, i.Arch,
				i.Size, i.SHA256, i.Installed.Format("2006-01-02 15:04:05Z"))
		} else {
			fmt.Fprintf(stdout, "%s slot %s: empty\n", mark, s)
		}
	}
	st, err := sl.State()
	if err != nil {
		return err
	}
	printState(stdout, "", st)
	if st.Last != nil {
		printState(stdout, "previous ", *st.Last)
	}
	return nil
}

func printState(w io.Writer, prefix string, st update.State) {
	switch st.Phase {
	case update.PhaseNone:
		fmt.Fprintf(w, "%strial: none\n", prefix)
	case update.PhaseTrial:
		fmt.Fprintf(w, "%strial: %s -> %s in slot %s, %d of %d starts used\n", prefix, st.FromVersion, st.ToVersion, st.To, st.Attempts, st.MaxAttempts)
	default:
		fmt.Fprintf(w, "%strial: %s %s -> %s (%d starts)", prefix, st.Phase, st.FromVersion, st.ToVersion, st.Attempts)
		if st.Reason != "" {
			fmt.Fprintf(w, ": %s", st.Reason)
		}
		fmt.Fprintln(w)
	}
}

func updateBoot(args []string, stdout, stderr io.Writer) error {
	fs, dir := slotsFlag("boot", stderr)
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("boot takes no arguments")
	}
	trial, err := (&update.Slots{Dir: *dir}).Start("", true)
	if errors.Is(err, update.ErrRolledBack) {
		fmt.Fprintf(stdout, "update: %v: current -> the previous slot\n", err)
		return nil // the service starts the previous binary now
	}
	if err != nil {
		return err
	}
	if trial {
		fmt.Fprintln(stdout, "update: trial start counted")
	}
	return nil
}
