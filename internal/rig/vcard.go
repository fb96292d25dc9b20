package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal"
)

// A device with reader = "vcard" is `yktd run --config` on a PC/SC reader
// of the machine's pcscd: vpcd's first slot ("Virtual PCD 00 00", TCP
// 35963), where `yktd rig vcard --control` presents the scenario's cards.
// Only one process on the machine may use pcscd and the vpcd slots at a
// time: the runner holds the machine-wide rig lock meanwhile.
const (
	pcscdLockPath = "/tmp/yktd-pcscd-rig.lock"
	vpcdReader    = "Virtual PCD 00 00"
	vpcdPort      = "35963"
)

// pcscdLock is the machine-wide rig lock (flock; it goes with the
// process) and the pcscd the runner started, if it started one.
type pcscdLock struct {
	f     *os.File
	pcscd *exec.Cmd
}

// takePCSCDLock waits up to 5 minutes for the lock, then makes sure a
// pcscd answers with the vpcd reader: the one running, or one it starts
// in the foreground (as root) and stops at release.
func takePCSCDLock(ctx context.Context) (*pcscdLock, error) {
	f, err := os.OpenFile(pcscdLockPath, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("rig: pcscd lock: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("rig: pcscd lock %s: %w", pcscdLockPath, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling a lock, bounded
		}
	}
	l := &pcscdLock{f: f}
	if vpcdUp(ctx, time.Second) == nil {
		return l, nil
	}
	bin, err := exec.LookPath("pcscd")
	if err != nil {
		bin = "/usr/sbin/pcscd"
	}
	// A pcscd that came up without the vpcd readers (the port still held
	// by the one a test just stopped, seen once in CI) is stopped and
	// started again, twice at most.
	var upErr error
	for attempt := 0; attempt < 3; attempt++ {
		l.pcscd = exec.Command(bin, "--foreground")
		l.pcscd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := l.pcscd.Start(); err != nil {
			l.pcscd = nil
			l.release()
			return nil, fmt.Errorf("rig: --pcscd: none answers and starting %s failed (it needs root and vsmartcard-vpcd): %w", bin, err)
		}
		if upErr = vpcdUp(ctx, 10*time.Second); upErr == nil {
			return l, nil
		}
		l.stopPCSCD()
		time.Sleep(time.Second) // let the port go before the next start
	}
	l.release()
	return nil, fmt.Errorf("rig: --pcscd: the pcscd started does not show %q: %w", vpcdReader, upErr)
}

// stopPCSCD stops the pcscd the lock started, if any (SIGTERM, then
// SIGKILL after 5 s).
func (l *pcscdLock) stopPCSCD() {
	if l.pcscd == nil {
		return
	}
	_ = l.pcscd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = l.pcscd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = l.pcscd.Process.Kill()
		<-done
	}
	l.pcscd = nil
}

// vpcdUp polls pcscd (bounded) until it lists the vpcd reader.
func vpcdUp(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		rs, err := pcsc.ListReaders(cctx, pcsc.Options{Backend: pcsc.Pure})
		cancel()
		if err == nil {
			for _, r := range rs {
				if r.Name == vpcdReader {
					return nil
				}
			}
			err = fmt.Errorf("readers %v", rs)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling a daemon, bounded
		}
	}
}

// release stops the pcscd it started and lets the lock go.
func (l *pcscdLock) release() {
	l.stopPCSCD()
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}

// vcardProc is the `yktd rig vcard --control` of a vcard device.
type vcardProc struct {
	dir  string
	proc *proc
	runs int
}

func (v *vcardProc) stop() {
	if v.proc != nil {
		v.proc.stop(10 * time.Second)
	}
}

// prepareVCard sets up a vcard device: its software SAM key file and its
// configuration's PC/SC reader.
func (r *scenarioRun) prepareVCard(d *device, dc *devConfig) error {
	dc.softSAM = filepath.Join(d.dir, "sam-keys.json")
	if err := os.WriteFile(dc.softSAM, sam.TestKeyFile, 0o600); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	dc.vpcdReader = vpcdReader
	d.vcard = &vcardProc{dir: filepath.Join(d.dir, "vcard")}
	return nil
}

// startVCard (re)starts the device's vcard with every card of the
// scenario, out of the field.
func (r *scenarioRun) startVCard(ctx context.Context, d *device) error {
	v := d.vcard
	if v.proc != nil && v.proc.running() {
		return nil // it outlives the daemon's restarts, as the cards do
	}
	v.runs++
	args := []string{"rig", "vcard", "--control", "127.0.0.1:0", "--dir", v.dir, "--port", vpcdPort}
	for _, c := range r.sc.Cards {
		args = append(args, "--state", filepath.Join(r.cards, c.Name+".json"))
	}
	_ = os.Remove(filepath.Join(v.dir, "control.addr"))
	p, err := startProc(d.spec.Name+" vcard", d.logs, fmt.Sprintf("%s.vcard.%d", d.spec.Name, v.runs), r.opts.Yktd, args)
	if err != nil {
		return err
	}
	v.proc = p
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(v.dir, "control.addr")); err == nil && strings.HasSuffix(string(b), "\n") {
			c, err := terminal.NewControlClient(v.dir, strings.TrimSpace(string(b)))
			if err != nil {
				return err
			}
			d.cardCtl = c
			return nil
		}
		if !p.running() || time.Now().After(deadline) {
			return fmt.Errorf("rig: %s's vcard did not come up (%s): %s", d.spec.Name, p.exitText(), p.stderr.tail(5))
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond): // polling a file, bounded
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
