package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openykt/yktd/internal/atomicfile"
	"github.com/openykt/yktd/internal/devkey"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
)

func init() {
	register(command{
		name:    "provision",
		summary: "provision a device: data directory, device key, configuration, enrolment, first status list and rules",
		run:     provision,
	})
}

const provisionUsage = `usage: yktd provision --ledger URL --ledger-key FINGERPRINT --token TOKEN --site SITE
                      --kind pos|gate|kiosk (--device ID | --config FILE) [--dir DIR] [--ca FILE]
                      [--force] [--soft-sam FILE]

Makes a device ready to run (docs/provision.md): the data directory (0700),
the device key (device.key, 0600), the configuration (DIR/yktd.toml from
the kind's defaults, or the --config FILE given, which is checked against
the flags), the ledger's key pinned (ledger.pub, checked against
--ledger-key, the fingerprint ` + "`ledgerd keys`" + ` prints), the enrolment with the
one-time token (` + "`ledgerd token new --device ID --kind KIND`" + `), the store
with the first status list and rules. Nothing is written before the ledger
took the enrolment and answered with the pinned key.

Run again with the same values it changes nothing ("already provisioned").
A device provisioned with other values (another ledger key, device id, site,
kind or configuration) is refused; --force replaces its identity with a new
device key, which the ledger takes only with a rekey token:
` + "`ledgerd device rekey ID`" + ` at the ledger, then --token that token.

--soft-sam FILE writes a software-SAM key file of the public TEST KEYS (the
rig only: never in the field).`

// provisionEnv is what provision takes from the process; tests replace it.
var provisionEnv = struct {
	interrupt func(context.Context) (context.Context, context.CancelFunc)
}{
	interrupt: func(ctx context.Context) (context.Context, context.CancelFunc) {
		return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	},
}

// defaultDataDir is a device's data directory unless --dir or the
// configuration says otherwise.
const defaultDataDir = "/var/lib/yktd"

// configFileName is the configuration provision writes in the data
// directory without --config.
const configFileName = "yktd.toml"

type provisionFlags struct {
	ledger, ledgerKey, token, site, kind, device string
	config, dir, ca, softSAM                     string
	force                                        bool
}

// errProvisionRefused: the device has another identity, and --force was
// not given; nothing was written.
var errProvisionRefused = errors.New("provision refused")

// enrolRefused is the ledger's refusal of an enrolment (or another
// ledger's answer): it does not hold the offered key.
type enrolRefused struct{ error }

func (e enrolRefused) Unwrap() error { return e.error }

func provision(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f provisionFlags
	fs.StringVar(&f.ledger, "ledger", "", "the ledger's URL (https://host/; http only for a loopback or test ledger)")
	fs.StringVar(&f.ledgerKey, "ledger-key", "", "the ledger key's fingerprint, as `ledgerd keys` prints it (sha256:...)")
	fs.StringVar(&f.token, "token", "", "one-time enrolment token (ledgerd token new, or ledgerd device rekey with --force)")
	fs.StringVar(&f.site, "site", "", "where the device is installed (device.site)")
	fs.StringVar(&f.kind, "kind", "", "pos, gate or kiosk")
	fs.StringVar(&f.device, "device", "", "the device id the token was issued for (default: device.id of --config)")
	fs.StringVar(&f.config, "config", "", "a configuration FILE to check and use instead of writing DIR/yktd.toml")
	fs.StringVar(&f.dir, "dir", "", "data directory (default: device.data_dir of --config, else "+defaultDataDir+")")
	fs.StringVar(&f.ca, "ca", "", "the ledger's CA certificate FILE (sync.ca_file; required for an https ledger without --config)")
	fs.BoolVar(&f.force, "force", false, "replace an existing identity (the ledger then needs `ledgerd device rekey`)")
	fs.StringVar(&f.softSAM, "soft-sam", "", "write a software-SAM key FILE of the TEST KEYS (rig only)")
	fs.Usage = func() { fmt.Fprintln(stderr, provisionUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("provision takes no arguments")
	}
	cfg, cfgPath, rendered, err := f.configuration()
	if err != nil {
		return err
	}
	ctx, cancel := provisionEnv.interrupt(context.Background())
	defer cancel()
	p := &provisioner{f: f, cfg: cfg, cfgPath: cfgPath, rendered: rendered, out: stdout,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	return p.run(ctx)
}

// provisioner carries one provisioning run.
type provisioner struct {
	f        provisionFlags
	cfg      *config.Config
	cfgPath  string
	rendered []byte // the configuration to write; nil with --config
	out      io.Writer
	log      *slog.Logger
	step     int
}

// progress prints one step's line.
func (p *provisioner) progress(format string, a ...any) {
	p.step++
	fmt.Fprintf(p.out, "[%d] %s\n", p.step, fmt.Sprintf(format, a...))
}

// found is what a data directory already holds.
type found struct {
	key       devkey.Key // nil: none
	pinned    string     // ledger.pub's fingerprint; "" none
	storeID   string     // the store's device id; "" no store
	storeSize int64
	config    []byte // the configuration file provision would write; nil none
}

func (p *provisioner) inspect(dir string) (found, error) {
	var fd found
	k, err := devkey.InDir(dir).Load()
	switch {
	case err == nil:
		fd.key = k
	case !errors.Is(err, devkey.ErrNotFound):
		return fd, fmt.Errorf("device key: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ledgerKeyFile)); err == nil {
		pk, err := protocol.DecodePublicKeyPEM(b)
		if err != nil {
			return fd, fmt.Errorf("pinned ledger key %s: %w", filepath.Join(dir, ledgerKeyFile), err)
		}
		fd.pinned = protocol.Fingerprint(pk.Key)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fd, fmt.Errorf("pinned ledger key: %w", err)
	}
	if st, err := os.Stat(p.cfg.Device.Store); err == nil && st.Size() > 0 {
		fd.storeSize = st.Size()
		s, err := offline.Open(p.cfg.Device.Store, offline.Options{ReadOnly: true, LockTimeout: time.Second})
		if err != nil {
			return fd, fmt.Errorf("store: %w", err)
		}
		fd.storeID = s.DeviceID()
		_ = s.Close()
	}
	if p.rendered != nil {
		if b, err := os.ReadFile(p.cfgPath); err == nil {
			fd.config = b
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fd, fmt.Errorf("configuration: %w", err)
		}
	}
	return fd, nil
}

// differences lists what of the existing identity the flags would change.
func (p *provisioner) differences(fd found) []string {
	var d []string
	if fd.pinned != "" && fd.pinned != p.f.ledgerKey {
		d = append(d, fmt.Sprintf("the pinned ledger key is %s, --ledger-key %s", fd.pinned, p.f.ledgerKey))
	}
	if fd.storeID != "" && fd.storeID != p.cfg.Device.ID {
		d = append(d, fmt.Sprintf("the store is device %s's, this is %s", fd.storeID, p.cfg.Device.ID))
	}
	if fd.config != nil && !bytes.Equal(fd.config, p.rendered) {
		d = append(d, fmt.Sprintf("%s says other things (%s)", p.cfgPath, configChanges(fd.config, p.cfg)))
	}
	return d
}

func (p *provisioner) run(ctx context.Context) error {
	cfg, dir := p.cfg, p.cfg.Device.DataDir
	p.progress("configuration: %s %s at site %s, ledger %s", cfg.Device.Kind, cfg.Device.ID, cfg.Device.Site, cfg.Sync.Ledger)
	if err := checkDataDir(dir); err != nil {
		return err
	}
	fd, err := p.inspect(dir)
	if err != nil {
		return err
	}
	diff := p.differences(fd)
	replace := false
	switch {
	case len(diff) > 0 && !p.f.force:
		return fmt.Errorf("%w: %s is already provisioned with another identity: %s. Nothing was changed. "+
			"To replace it, get a rekey token at the ledger (ledgerd device rekey %s) and provision again with --force --token REKEY-TOKEN",
			errProvisionRefused, dir, strings.Join(diff, "; "), cfg.Device.ID)
	case fd.storeID != "" && fd.storeID != cfg.Device.ID:
		return fmt.Errorf("%w: the store %s holds device %s's journal: --force never replaces a store. "+
			"Move it aside (keep it: its records are evidence) and provision again", errProvisionRefused, cfg.Device.Store, fd.storeID)
	case p.f.force && (fd.key != nil || fd.pinned != ""):
		replace = true
		fmt.Fprintf(p.out, "--force: the device's identity is replaced by a new key; the ledger takes it only with a rekey token (ledgerd device rekey %s)\n", cfg.Device.ID)
	}

	// The key: a new one is kept as DIR/device.key.pending before the
	// enrolment (an answer lost on the way, or a power cut, leaves the
	// ledger holding a key the device must still have: the next run resumes
	// with it and the same token), and becomes device.key once the ledger
	// took it. A refusal removes it: nothing stays.
	var key *devkey.PrivateKey
	var keyed devkey.Key = fd.key
	pending := pendingKey{dir: dir}
	if fd.key == nil || replace {
		if key, err = pending.load(); err != nil {
			return err
		}
		if key != nil {
			p.progress("device key: resuming with %s, made by an interrupted provisioning (%s)", key.Fingerprint(), pending.path())
		} else {
			if key, err = devkey.New(nil); err != nil {
				return err
			}
			if err := pending.write(key); err != nil {
				return err
			}
			p.progress("device key: made %s (kept as device.key once the ledger took it)", key.Fingerprint())
		}
		keyed = key
	} else {
		p.progress("device key: already provisioned, %s", fd.key.Fingerprint())
	}
	signer, err := keyed.Signer(cfg.Device.ID)
	if err != nil {
		return err
	}

	var pinnedKey *protocol.PublicKey
	if fd.pinned != "" && !replace {
		p.progress("enrolment: already enrolled, ledger key %s pinned", fd.pinned)
	} else {
		pk, err := p.enrol(ctx, signer)
		switch {
		case errors.As(err, new(enrolRefused)) && key != nil:
			return errors.Join(err, pending.remove())
		case err != nil && key != nil:
			return fmt.Errorf("%w. The ledger may have taken the device key before the answer was lost: "+
				"run the same command again (same token) and it resumes with the key kept in %s", err, pending.path())
		case err != nil:
			return err
		}
		pinnedKey = &pk
		p.progress("enrolment: the ledger took the device key; its key %s matches --ledger-key", protocol.Fingerprint(pk.Key))
	}

	// From here on the ledger knows the device: write.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	p.progress("data directory: %s (0700)", dir)
	if err := p.writeKey(dir, key, replace); err != nil {
		return err
	}
	if err := p.writeConfig(fd); err != nil {
		return err
	}
	store, err := p.openStore(fd, fd.pinned != "")
	if err != nil {
		return err
	}
	defer store.Close()
	if pinnedKey != nil {
		if err := p.pin(dir, *pinnedKey, replace); err != nil {
			return err
		}
	} else {
		p.progress("ledger key: already pinned in %s", filepath.Join(dir, ledgerKeyFile))
	}
	if err := p.pull(ctx, signer, store); err != nil {
		return err
	}
	if p.f.softSAM != "" {
		if err := p.writeSoftSAM(); err != nil {
			return err
		}
	}
	p.next(keyed)
	return nil
}

// enrol enrols signer's key with the token at the ledger, which must
// answer signed by the key --ledger-key names; it returns that key.
func (p *provisioner) enrol(ctx context.Context, signer *protocol.Signer) (protocol.PublicKey, error) {
	opts, err := syncOptions(p.cfg, signer, nil, p.log)
	if err != nil {
		return protocol.PublicKey{}, err
	}
	opts.LedgerFingerprint, opts.RequireLedgerPin = p.f.ledgerKey, true
	if p.f.softSAM != "" {
		// The software SAM's terminal id is known before it is written:
		// the ledger binds it at the enrolment. A PC/SC PSAM binds on
		// the device's first record instead (docs/protocol.md §5.1).
		id := sam.TestTerminalIDFor(p.cfg.Device.ID)
		opts.TerminalID = id[:]
	}
	c, err := syncclient.New(opts)
	if err != nil {
		return protocol.PublicKey{}, err
	}
	resp, err := c.Enrol(ctx, p.f.token)
	var pe *protocol.Error
	why := ""
	if errors.As(err, &pe) {
		why = pe.Message
	}
	switch {
	case errors.Is(err, syncclient.ErrLedgerKeyMismatch):
		return protocol.PublicKey{}, enrolRefused{fmt.Errorf("enrolment: the ledger at %s signs with another key than --ledger-key %s: "+
			"check the address and the fingerprint (ledgerd keys --fingerprint). Nothing was written: %w", p.cfg.Sync.Ledger, p.f.ledgerKey, err)}
	case errors.Is(err, protocol.ErrTokenInvalid):
		return protocol.PublicKey{}, enrolRefused{fmt.Errorf("enrolment: the ledger refused the token for %s (%s): it is used, expired, "+
			"for another device or kind, or the device is enrolled with another key. Ask for a new one "+
			"(ledgerd token new --device %s --kind %s; ledgerd device rekey %s for a device enrolled before, with --force). Nothing was written: %w",
			p.cfg.Device.ID, why, p.cfg.Device.ID, p.cfg.Device.Kind, p.cfg.Device.ID, err)}
	case pe != nil:
		return protocol.PublicKey{}, enrolRefused{fmt.Errorf("enrolment: the ledger refused it. Nothing was written: %w", err)}
	case err != nil:
		return protocol.PublicKey{}, fmt.Errorf("enrolment: nothing was written: %w", err)
	}
	return protocol.PublicKey{KeyID: resp.LedgerKeyID, Alg: resp.LedgerAlg, Key: resp.LedgerKey}, nil
}

// writeKey keeps the new device key (none: the existing one stays). With
// replace the old key is kept beside it as device.key.replaced-TIME.
func (p *provisioner) writeKey(dir string, key *devkey.PrivateKey, replace bool) error {
	if key == nil {
		return nil
	}
	st := devkey.InDir(dir)
	if replace {
		if err := setAside(st.Path); err != nil {
			return err
		}
	}
	if err := (pendingKey{dir: dir}).commit(st.Path); err != nil {
		return err
	}
	p.progress("device key: written to %s (0600)", st.Path)
	return nil
}

// pendingKey is the device key a provisioning made and offered to the
// ledger, kept until the ledger's answer says what becomes of it.
type pendingKey struct {
	dir     string
	created bool // the data directory was made for it
}

func (k pendingKey) path() string { return filepath.Join(k.dir, devkey.FileName+".pending") }

// load returns the pending key of an interrupted run, or nil.
func (k *pendingKey) load() (*devkey.PrivateKey, error) {
	b, err := os.ReadFile(k.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	key, err := devkey.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("device key: %s: %w (remove it if no ledger holds it)", k.path(), err)
	}
	return key, nil
}

// write keeps key as the pending key (0600, fsync'd), making the data
// directory (0700) when there is none.
func (k *pendingKey) write(key *devkey.PrivateKey) error {
	if _, err := os.Stat(k.dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(k.dir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		k.created = true
	}
	if err := (&devkey.File{Path: k.path()}).Write(key); err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	return nil
}

// remove drops the pending key after a refusal, and the data directory
// when this run made it and nothing else is in it.
func (k *pendingKey) remove() error {
	if err := os.Remove(k.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("device key: %w", err)
	}
	if k.created {
		_ = os.Remove(k.dir) // fails, harmlessly, unless empty
	}
	return nil
}

// commit makes the pending key the device key at path (a rename: a power
// cut leaves one or the other) and fsyncs the directory.
func (k pendingKey) commit(path string) error {
	if err := os.Rename(k.path(), path); err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	d, err := os.Open(k.dir)
	if err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("device key: sync %s: %w", k.dir, err)
	}
	return nil
}

// setAside renames path to path.replaced-TIME, if it exists.
func setAside(path string) error {
	aside := path + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("set %s aside: %w", path, err)
	}
	return nil
}

func (p *provisioner) writeConfig(fd found) error {
	switch {
	case p.rendered == nil:
		p.progress("configuration: %s checked, used as it is", p.cfgPath)
		return nil
	case bytes.Equal(fd.config, p.rendered):
		p.progress("configuration: already provisioned, %s", p.cfgPath)
		return nil
	}
	if fd.config != nil {
		if err := setAside(p.cfgPath); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(p.cfgPath, p.rendered, 0o600); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	p.progress("configuration: written to %s: edit its readers and board for this device's hardware (docs/config.md)", p.cfgPath)
	return nil
}

// openStore opens the device's store, making its first one. enrolled is
// whether the device was enrolled before this run (ledger.pub): then a
// missing store is a lost one, which `yktd run --new-store` deals with.
func (p *provisioner) openStore(fd found, enrolled bool) (*offline.Store, error) {
	opts := storeOptions(p.cfg)
	path := p.cfg.Device.Store
	if fd.storeSize > 0 {
		s, err := offline.Open(path, opts)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		p.progress("store: already provisioned, %s", path)
		return s, nil
	}
	if enrolled {
		return nil, fmt.Errorf("%w: the store %s is missing, but the device is enrolled (%s): put it back, or start the next journal epoch with `yktd run --config %s --new-store`",
			errStoreLost, path, filepath.Join(p.cfg.Device.DataDir, ledgerKeyFile), p.cfgPath)
	}
	// The device's first store: its identity is being made by this run.
	plan := storePlan{path: path, idDir: p.cfg.Device.DataDir}
	var err error
	if _, err = os.Lstat(path); err == nil {
		plan.removeEmpty = true
	}
	if plan.fileEpoch, plan.known, err = readEpoch(plan.idDir); err != nil {
		return nil, err
	}
	plan.epoch = plan.fileEpoch
	s, err := plan.open(opts, p.log)
	if err != nil {
		return nil, err
	}
	p.progress("store: made %s for %s", path, p.cfg.Device.ID)
	return s, nil
}

// pin keeps the ledger's key in ledger.pub: written last, it marks the
// device enrolled.
func (p *provisioner) pin(dir string, pk protocol.PublicKey, replace bool) error {
	path := filepath.Join(dir, ledgerKeyFile)
	b, err := protocol.EncodePublicKeyPEM(pk)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		p.progress("ledger key: already pinned in %s", path)
		return nil
	} else if err == nil && replace {
		if err := setAside(path); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("pin ledger key: %w", err)
	}
	p.progress("ledger key: pinned in %s (%s)", path, protocol.Fingerprint(pk.Key))
	return nil
}

// pull fetches the status list and the rules into the store.
func (p *provisioner) pull(ctx context.Context, signer *protocol.Signer, store *offline.Store) error {
	opts, err := syncOptions(p.cfg, signer, store, p.log)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(p.cfg.Device.DataDir, ledgerKeyFile))
	if err != nil {
		return fmt.Errorf("pinned ledger key: %w", err)
	}
	pk, err := protocol.DecodePublicKeyPEM(b)
	if err != nil {
		return fmt.Errorf("pinned ledger key: %w", err)
	}
	opts.LedgerKeys = protocol.NewKeys(pk)
	c, err := syncclient.New(opts)
	if err != nil {
		return err
	}
	const again = "the device is enrolled; provision again (it keeps what is done) or let `yktd run` fetch it"
	st, err := c.PullStatus(ctx)
	if err != nil {
		return fmt.Errorf("status list: %w (%s)", err, again)
	}
	p.progress("status list: version %s", pulled(st))
	rl, err := c.PullRules(ctx)
	if err != nil {
		return fmt.Errorf("rules: %w (%s)", err, again)
	}
	p.progress("rules: version %s", pulled(rl))
	return nil
}

func pulled(r syncclient.PullResult) string {
	if !r.Applied {
		return fmt.Sprintf("%d, up to date", r.Version)
	}
	return fmt.Sprintf("%d (%s)", r.Version, r.Kind)
}

// next prints the device id, its key and what the technician does next.
func (p *provisioner) next(k devkey.Key) {
	c := p.cfg
	fmt.Fprintf(p.out, "provisioned: device %s (%s at %s)\n", c.Device.ID, c.Device.Kind, c.Device.Site)
	fmt.Fprintf(p.out, "device key:  %s\n", k.Fingerprint())
	fmt.Fprintf(p.out, "data:        %s\n", c.Device.DataDir)
	fmt.Fprintf(p.out, "next:        check `ledgerd device list` shows %s with this key; ", c.Device.ID)
	if p.rendered != nil {
		fmt.Fprintf(p.out, "edit the readers and board in %s for this device, then ", p.cfgPath)
	}
	fmt.Fprintf(p.out, "start it: yktd run --config %s (or systemctl enable --now yktd)\n", p.cfgPath)
}

// checkDataDir refuses a data directory provision cannot make or write,
// before anything is sent: the token is not spent on a device that cannot
// keep its key.
func checkDataDir(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) && filepath.Dir(d) != d {
			continue
		}
		if err != nil {
			return fmt.Errorf("data directory %s: %w", dir, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("data directory %s: %s is not a directory", dir, d)
		}
		if err := writable(d); err != nil {
			return fmt.Errorf("data directory %s: %s is not writable: %w", dir, d, err)
		}
		return nil
	}
}

// ledgerURL is the ledger address as the configuration keeps it (with a
// trailing slash).
func ledgerURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError("--ledger %q: want https://host/ (http only for a loopback or test ledger)", s)
	}
	return strings.TrimRight(s, "/") + "/", nil
}
