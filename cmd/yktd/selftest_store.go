package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/selftest"
)

// selftestLockWait is how long the selftest waits for the store's lock: a
// running daemon holds it for good, so the wait only tells it is there.
const selftestLockWait = 200 * time.Millisecond

// healthWait bounds the request for the running daemon's health.
const healthWait = 3 * time.Second

// deviceFacts is what the selftest read of the device's state: from the
// store (alone) or from the running daemon's GET /v1/health.
type deviceFacts struct {
	mode selftest.Mode

	// Alone: the store as read (openErr: it could not be opened).
	openErr                error
	verify                 offline.VerifyResult
	verifyErr              error
	acked                  uint64
	capacity               offline.Capacity
	capErr                 error
	sync                   offline.SyncState
	syncErr                error
	status                 offline.StatusInfo
	statusErr              error
	rulesVersion           uint64
	rulesIssued            time.Time
	rulesErr               error
	tamper                 uint64
	tamperErr              error
	purchases, loads       int
	intentsErr             error
	latest                 time.Time
	lastTerminalID         []byte
	lastTerminalIDRecordAt uint64

	// Beside a daemon: its health and where it answered; held: why the
	// process holding the store could not be asked.
	health  *terminal.Health
	control string
	heldWhy error
}

// gatherStore reads the store read-only, or, when a running daemon holds
// it, the daemon's health.
func (f *selftestFlags) gatherStore(ctx context.Context) deviceFacts {
	opts := offline.Options{DeviceID: f.cfg.Device.ID, ReadOnly: true, LockTimeout: selftestLockWait}
	if selftestEnv.storeOptions != nil {
		selftestEnv.storeOptions(&opts)
	}
	s, err := offline.Open(f.cfg.Device.Store, opts)
	if errors.Is(err, offline.ErrStoreInUse) {
		return f.askDaemon(ctx)
	}
	if err != nil {
		return deviceFacts{mode: selftest.Alone, openErr: err}
	}
	defer s.Close()
	d := deviceFacts{mode: selftest.Alone}
	if c, err := s.SyncCursor(); err == nil {
		d.acked = c.Seq
	}
	d.verify, d.verifyErr = s.VerifyTail()
	d.capacity, d.capErr = s.Capacity()
	d.sync, d.syncErr = s.SyncState()
	d.status, d.statusErr = s.StatusInfo()
	if r, v, err := s.Rules(); err != nil {
		d.rulesErr = err
	} else if v > 0 {
		d.rulesVersion, d.rulesIssued = v, time.UnixMilli(r.Issued).UTC()
	}
	d.tamper, d.tamperErr = s.Tamper()
	ins, err := s.Intents()
	d.purchases, d.intentsErr = len(ins), err
	if ls, err := s.Loads(); err != nil {
		d.intentsErr = errors.Join(d.intentsErr, err)
	} else {
		for _, l := range ls {
			if l.State == offline.LoadOpen || l.State == offline.LoadUncertain {
				d.loads++
			}
		}
	}
	d.latest, _ = s.LatestTime()
	d.lastTerminalID, d.lastTerminalIDRecordAt = lastTerminalID(s)
	return d
}

// lastTerminalID returns the PSAM terminal id of the journal's last
// purchase record among its last 256, and that record's sequence.
func lastTerminalID(s *offline.Store) ([]byte, uint64) {
	h, err := s.Head()
	if err != nil || h.Seq == 0 {
		return nil, 0
	}
	es, err := s.Records(h.Seq-min(h.Seq, 256), 256)
	if err != nil {
		return nil, 0
	}
	for i := len(es) - 1; i >= 0; i-- {
		if r := es[i].Record; len(r.TerminalID) > 0 {
			return r.TerminalID, r.Seq
		}
	}
	return nil, 0
}

// askDaemon asks the process holding the store, through its control
// interface, for its health.
func (f *selftestFlags) askDaemon(ctx context.Context) deviceFacts {
	d := deviceFacts{mode: selftest.Held}
	addr, err := controlAddress(f.cfg.Control.Listen, identityDir(f.cfg))
	if err != nil {
		d.heldWhy = err
		return d
	}
	d.control = addr
	c, err := terminal.NewControlClient(identityDir(f.cfg), addr)
	if err != nil {
		d.heldWhy = err
		return d
	}
	hctx, cancel := context.WithTimeout(ctx, healthWait)
	defer cancel()
	var h terminal.Health
	if err := c.Get(hctx, "/v1/health", &h); err != nil {
		d.heldWhy = err
		return d
	}
	if h.Device != f.cfg.Device.ID {
		d.heldWhy = fmt.Errorf("the control interface at %s answers as device %q, not %q", addr, h.Device, f.cfg.Device.ID)
		return d
	}
	d.mode, d.health = selftest.Daemon, &h
	return d
}

// controlAddress is where the daemon's control interface answers:
// control.listen, or for a port chosen at start (":0") the address the
// simulator wrote to DATA_DIR/control.addr.
func controlAddress(listen, dataDir string) (string, error) {
	if listen == "" {
		return "", errors.New("its control interface is off (control.listen is empty)")
	}
	if strings.HasPrefix(listen, "unix:") {
		return listen, nil
	}
	if _, port, err := net.SplitHostPort(listen); err == nil && port == "0" {
		b, err := os.ReadFile(filepath.Join(dataDir, "control.addr"))
		if err != nil {
			return "", fmt.Errorf("control.listen %s takes a port at start, and no %s names it", listen, filepath.Join(dataDir, "control.addr"))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return listen, nil
}

// daemonCheck says whether a daemon runs beside the selftest.
func (f *selftestFlags) daemonCheck() selftest.Check {
	d := f.facts
	switch d.mode {
	case selftest.Daemon:
		h := d.health
		if h.Working && len(h.Errors) == 0 {
			return selftest.Passed("daemon", fmt.Sprintf("running, answers on %s: working (no hold); the store and the readers are its own", d.control),
				"守护进程正在运行，工作正常")
		}
		codes := make([]string, len(h.Holds))
		for i, x := range h.Holds {
			codes[i] = x.Code
		}
		what := fmt.Sprintf("running, answers on %s, but not working: holds %s", d.control, strings.Join(codes, ", "))
		if len(h.Errors) > 0 {
			what += "; store errors: " + strings.Join(h.Errors, "; ")
		}
		return selftest.Warned("daemon", what, "see the failed checks below: each hold is one of them",
			"守护进程在运行但已停止工作（有暂停原因）：见下面未通过的检查项")
	case selftest.Held:
		return selftest.Warned("daemon", fmt.Sprintf("another process holds the store %s, and its state cannot be read: %v", f.cfg.Device.Store, d.heldWhy),
			`to check the store beside the daemon set control.listen = "unix:/run/yktd/control.sock" (docs/control.md); or stop the daemon (systemctl stop yktd) and run the selftest again`,
			"数据文件被其他进程（通常是守护进程）占用，且无法通过控制接口读取状态：请配置 control.listen 为 unix 套接字，或先停止守护进程再自检")
	}
	return selftest.Passed("daemon", "not running: the selftest opened the store, the readers, the PSAM and the board itself",
		"守护进程未运行：自检直接打开了数据文件和硬件")
}

// heldSkip is a check left to the process holding the store.
func (f *selftestFlags) heldSkip(name string) selftest.Check {
	if f.facts.mode == selftest.Daemon {
		return selftest.Skipped(name, "held by the running daemon", "由运行中的守护进程占用，未检查")
	}
	return selftest.Skipped(name, fmt.Sprintf("held by another process, not read (%v)", f.facts.heldWhy), "数据文件被占用，未检查")
}

// storeChecks are the checks of the store: the chain, the tamper state,
// the sales waiting for their card, the disk and the capacity.
func (f *selftestFlags) storeChecks() []selftest.Check {
	d := f.facts
	disk := f.diskCheck()
	switch {
	case d.mode == selftest.Held:
		return []selftest.Check{f.heldSkip("store"), f.heldSkip("tamper"), f.heldSkip("intents"), disk, f.heldSkip("capacity")}
	case d.mode == selftest.Daemon:
		return append(f.daemonStoreChecks(), disk)
	case d.openErr != nil:
		st := selftest.Store(selftest.StoreFacts{Path: f.cfg.Device.Store, Err: d.openErr})
		why := "the store did not open (see store)"
		return []selftest.Check{st, selftest.Skipped("tamper", why, "数据文件无法打开，未检查"),
			selftest.Skipped("intents", why, "数据文件无法打开，未检查"), disk, selftest.Skipped("capacity", why, "数据文件无法打开，未检查")}
	}
	out := []selftest.Check{selftest.Store(selftest.StoreFacts{Path: f.cfg.Device.Store, Err: d.verifyErr, Verified: d.verify, Acked: d.acked})}
	switch {
	case d.tamperErr != nil:
		out = append(out, selftest.Failed("tamper", fmt.Sprintf("tamper state not read: %v", d.tamperErr), "see the store check", "无法读取防拆状态"))
	case d.tamper != 0:
		out = append(out, tamperFailed(fmt.Sprintf("the case-open / tamper alarm of record %d is not cleared: the terminal takes no money (tampered)", d.tamper)))
	default:
		out = append(out, selftest.Passed("tamper", "no tamper alarm waiting to be cleared", "无未解除的防拆报警"))
	}
	switch {
	case d.intentsErr != nil:
		out = append(out, selftest.Failed("intents", fmt.Sprintf("intents not read: %v", d.intentsErr), "see the store check", "无法读取未完成交易"))
	case d.purchases+d.loads > 0:
		out = append(out, selftest.Warned("intents", fmt.Sprintf("%d sales and %d loads wait for their card to come back (torn or interrupted)", d.purchases, d.loads),
			"nothing to do at once: each is resolved when its card taps again; `yktd journal intents --db COPY` lists them",
			fmt.Sprintf("有%d笔消费和%d笔圈存等待原卡再次刷卡以确认结果：无需立即处理，可用 yktd journal intents 查看", d.purchases, d.loads)))
	default:
		out = append(out, selftest.Passed("intents", "no sale or load waits for its card", "无待确认的交易"))
	}
	return append(out, disk, selftest.Capacity(selftest.CapacityFacts{Capacity: d.capacity, Err: d.capErr}))
}

func tamperFailed(what string) selftest.Check {
	return selftest.Failed("tamper", what,
		`close the case, find out why it was opened, then clear the alarm on the running daemon: POST /v1/tamper/clear {"technician": "NAME"} (docs/control.md)`,
		"机箱防拆报警未解除，本机已停止收款：请合上机箱、查明原因，然后在守护进程上解除报警（POST /v1/tamper/clear）")
}

// daemonStoreChecks are the store checks from the running daemon's health.
func (f *selftestFlags) daemonStoreChecks() []selftest.Check {
	h := f.facts.health
	sf := selftest.StoreFacts{Path: f.cfg.Device.Store, ByDaemon: true, Acked: h.Journal.AckedThrough,
		Verified: offline.VerifyResult{Head: offline.Head{Seq: h.Journal.Head}}}
	if !h.Journal.ChainOK {
		sf.BrokenAt = max(h.Journal.BrokenAt, 1)
	}
	out := []selftest.Check{selftest.Store(sf)}
	if slices.ContainsFunc(h.Holds, func(x terminal.HealthHold) bool { return x.Code == "tampered" }) {
		out = append(out, tamperFailed("the running daemon holds on the case-open / tamper alarm: it takes no money (tampered)"))
	} else {
		out = append(out, selftest.Passed("tamper", "the running daemon reports no tamper alarm", "无未解除的防拆报警"))
	}
	out = append(out, selftest.Skipped("intents", "held by the running daemon (it lists the sales waiting for their card at start)", "由守护进程处理，未检查"))
	var lvl offline.Level
	switch h.Journal.Capacity {
	case "ok":
		lvl = offline.LevelOK
	case "nearly_full":
		lvl = offline.LevelNearlyFull
	case "full":
		lvl = offline.LevelFull
	default:
		return append(out, selftest.Skipped("capacity", "the running daemon does not report it (an older yktd)", "守护进程未报告存储容量"))
	}
	k := offline.Capacity{Level: lvl, Unacked: h.Journal.Unacked, MaxUnacked: h.Journal.MaxUnacked, Reserve: min(1000, h.Journal.MaxUnacked/10)}
	return append(out, selftest.Capacity(selftest.CapacityFacts{Capacity: k}))
}

// diskCheck reports the free space of the store's file system.
func (f *selftestFlags) diskCheck() selftest.Check {
	dir := filepath.Dir(f.cfg.Device.Store)
	free, total, err := selftestEnv.statfs(existingParent(dir))
	return selftest.Disk(selftest.DiskFacts{Path: dir, Free: free, Total: total, Err: err})
}

// existingParent is dir or its nearest parent that exists.
func existingParent(dir string) string {
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			return p
		}
	}
}
