package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/readers"
	"github.com/openykt/yktd/terminal/selftest"
)

// selftestPulse is how long --relays holds each relay active (at least
// its min_pulse): long enough to hear the relay click and see the arm move.
const selftestPulse = 300 * time.Millisecond

// hardwareChecks are the checks of the readers, the tap, the PSAM, the
// board's inputs and the relays. Beside a daemon only what it reports (the
// readers) and what it does not hold (a software SAM's key file) is
// checked.
func (f *selftestFlags) hardwareChecks(ctx context.Context) []selftest.Check {
	var out []selftest.Check
	alone := f.facts.mode == selftest.Alone
	var rs []reader.Reader
	if alone {
		var cs []selftest.Check
		cs, rs = f.readerChecks(ctx)
		out = append(out, cs...)
	} else {
		out = append(out, f.daemonReaderChecks()...)
	}
	out = append(out, f.psamCheck(ctx, alone))
	if alone {
		out = append(out, f.boardChecks(ctx)...)
	} else {
		out = append(out, f.heldSkip("board"), f.heldSkip("relays"))
	}
	// The tap last: it waits for the technician, up to the deadline.
	switch {
	case !f.tap:
		out = append(out, selftest.Skipped("tap", "not asked: run with --tap and present a card to test a tap", "未测试刷卡：加 --tap 参数后刷卡测试"))
	case !alone:
		out = append(out, selftest.Skipped("tap", "held by the running daemon: a tap there is a sale; stop the daemon to test a tap", "守护进程运行中刷卡即为消费：请先停止守护进程再测试刷卡"))
	default:
		out = append(out, f.tapCheck(ctx, rs))
	}
	return out
}

// readerChecks builds and opens every configured reader as `yktd reader
// list --config` does, one check each, and returns those that open.
func (f *selftestFlags) readerChecks(ctx context.Context) ([]selftest.Check, []reader.Reader) {
	if len(f.cfg.Readers) == 0 {
		return []selftest.Check{selftest.Failed("readers", "no [[reader]] configured: the terminal cannot read a card",
			"add the device's readers to the configuration (docs/config.md); `yktd reader list` shows the PC/SC readers pcscd sees",
			"配置中没有读卡器，无法读卡：请按 docs/config.md 添加读卡器")}, nil
	}
	opts := readerOptions
	opts.Log = f.quiet
	var out []selftest.Check
	var ok []reader.Reader
	for _, c := range f.cfg.Readers {
		name := "reader:" + c.Name
		r, err := readers.BuildOne(c, opts)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, min(5*time.Second, f.remaining()))
			err = readers.Probe(pctx, r)
			cancel()
		}
		if err != nil {
			out = append(out, selftest.Failed(name, fmt.Sprintf("driver %s (%s) does not open: %v", c.Driver, readers.Describe(c), err), readerFix(c),
				"读卡器无法打开：请检查连接线和设备，用 yktd reader list 查看"))
			continue
		}
		ok = append(ok, r)
		out = append(out, selftest.Passed(name, fmt.Sprintf("driver %s (%s) opens", c.Driver, readers.Describe(c)), "读卡器正常"))
	}
	return out, ok
}

// readerFix says what to look at for a reader that does not open.
func readerFix(c config.Reader) string {
	switch c.Driver {
	case config.DriverPCSC:
		return "is pcscd running (systemctl status pcscd) and the reader plugged in? `yktd reader list` lists what pcscd sees; check match="
	case config.DriverPN532, config.DriverQRScan:
		return fmt.Sprintf("is the device plugged in (ls -l %s)? check device= and baud=, and that the yktd user may open it (group dialout)", c.Device)
	case config.DriverWiegand:
		return "check d0= and d1= against `yktd board pins`, and the wiring"
	}
	return "check the reader's section in the configuration (docs/config.md)"
}

// daemonReaderChecks reports the readers as the running daemon does.
func (f *selftestFlags) daemonReaderChecks() []selftest.Check {
	if f.facts.mode != selftest.Daemon {
		return []selftest.Check{f.heldSkip("readers")}
	}
	up := map[string]bool{}
	known := map[string]bool{}
	for _, r := range f.facts.health.Readers {
		up[r.Name], known[r.Name] = r.Up, true
	}
	if len(f.cfg.Readers) == 0 {
		return []selftest.Check{selftest.Failed("readers", "no [[reader]] configured: the terminal cannot read a card",
			"add the device's readers to the configuration (docs/config.md)", "配置中没有读卡器，无法读卡")}
	}
	var out []selftest.Check
	for _, c := range f.cfg.Readers {
		name := "reader:" + c.Name
		switch {
		case !known[c.Name]:
			out = append(out, selftest.Skipped(name, "held by the running daemon, which does not report it", "由守护进程占用，未报告状态"))
		case up[c.Name]:
			out = append(out, selftest.Passed(name, fmt.Sprintf("held by the running daemon: its %s driver runs (%s)", c.Driver, readers.Describe(c)), "读卡器由守护进程使用，运行正常"))
		default:
			out = append(out, selftest.Failed(name, fmt.Sprintf("held by the running daemon: its %s driver is not running (%s); the daemon retries", c.Driver, readers.Describe(c)),
				readerFix(c)+"; the daemon's log says why", "守护进程报告该读卡器未运行（正在重试）：请检查连接线和设备，并查看日志"))
		}
	}
	return out
}

// tapCheck waits for a card, QR code or number on any reader that opened.
func (f *selftestFlags) tapCheck(ctx context.Context, rs []reader.Reader) selftest.Check {
	if len(rs) == 0 {
		return selftest.Skipped("tap", "no reader opened", "没有可用的读卡器")
	}
	if selftestEnv.readersBuilt != nil {
		selftestEnv.readersBuilt(rs)
	}
	tctx, cancel := context.WithCancel(ctx)
	events := make(chan reader.Event, 8)
	m := &reader.Manager{Readers: rs, Log: f.quiet}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(tctx, events)
	}()
	defer func() {
		cancel()
		<-done
	}()
	began := time.Now()
	for {
		select {
		case <-tctx.Done():
			return selftest.Failed("tap", fmt.Sprintf("no card, QR code or number on any reader within %s", time.Since(began).Round(time.Second)),
				"present a card flat on the reader (or a QR code to the scanner) within --timeout; if the reader opens but sees nothing, check its antenna cable and `yktd reader watch --config FILE`",
				"在时限内没有检测到刷卡：请把卡平放在读卡器上（或对准扫码器）；仍无反应请检查天线连接，并用 yktd reader watch 观察")
		case ev := <-events:
			switch ev.Kind {
			case reader.CardPresent:
				return selftest.Passed("tap", fmt.Sprintf("card on %s after %s: tech %s, uid %s", ev.Reader, time.Since(began).Round(time.Millisecond), ev.Tech, hex.EncodeToString(ev.UID)),
					"刷卡正常，读卡器已识别卡片")
			case reader.TextCredential:
				return selftest.Passed("tap", fmt.Sprintf("code of %d characters on %s", len(ev.Text), ev.Reader), "扫码正常")
			case reader.NumberCredential:
				return selftest.Passed("tap", fmt.Sprintf("%d-bit number on %s", ev.Bits, ev.Reader), "读卡正常（韦根）")
			}
		}
	}
}

// psamCheck opens the PSAM as `yktd run` does and reads its terminal id.
func (f *selftestFlags) psamCheck(ctx context.Context, alone bool) selftest.Check {
	if !f.isKind(config.KindPOS, config.KindKiosk) {
		return selftest.Skipped("psam", "a "+f.cfg.Device.Kind+" takes no money: it has no PSAM", "本机类型无需PSAM")
	}
	kind, arg, _ := strings.Cut(f.cfg.Device.SAM, ":")
	if kind == "soft" {
		return f.softSAMCheck(arg)
	}
	if !alone {
		return selftest.Skipped("psam", fmt.Sprintf("the PSAM in %q is held by the running daemon", arg), "PSAM由守护进程占用，未检查")
	}
	sctx, cancel := context.WithTimeout(ctx, min(psamStartWait, f.remaining()))
	defer cancel()
	s, stop, err := openSAM(sctx, f.cfg.Device.SAM, f.quiet)
	if err != nil {
		return selftest.Failed("psam", err.Error(), `set device.sam to "pcsc:READER" (the PSAM's slot) or "soft:KEYFILE" (rig only)`, "PSAM配置错误：device.sam 应为 pcsc:读卡器名 或 soft:密钥文件")
	}
	defer stop()
	tid, err := s.TerminalID(sctx)
	if err != nil {
		return selftest.Failed("psam", fmt.Sprintf("no PSAM answers in the reader %q: %v", arg, err),
			"seat the PSAM (chip down, the right slot) and check that pcscd sees its reader (`yktd reader list`); a PSAM that answers nothing may be locked: call the card office",
			"PSAM无应答：请检查PSAM卡是否插好（芯片朝向、卡槽），用 yktd reader list 确认读卡器；仍无应答请联系卡务中心")
	}
	return f.terminalIDCheck(fmt.Sprintf("PSAM in %q answers", arg), tid[:], "PSAM正常，已读到终端编号")
}

// softSAMCheck reads a software SAM's key file as `yktd run` does.
func (f *selftestFlags) softSAMCheck(path string) selftest.Check {
	kf, err := sam.ReadKeyFile(path)
	if err == nil {
		_, err = sam.NewSoftware(kf) // the sequence file too
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return selftest.Failed("psam", fmt.Sprintf("the software SAM's key file %s is missing", path),
			"put the key file back (0600, owned by the yktd user) or correct device.sam", "软件PSAM密钥文件不存在：请恢复密钥文件（权限0600）或修正 device.sam")
	case errors.Is(err, sam.ErrKeyFileMode):
		return selftest.Failed("psam", err.Error(), "chmod 600 "+path, "软件PSAM密钥文件权限过宽：请执行 chmod 600")
	case err != nil:
		return selftest.Failed("psam", fmt.Sprintf("the software SAM's key file %s does not load: %v", path, err),
			"restore the key file from where it was issued; it must be the JSON key file of reader/sam (docs/config.md)",
			"软件PSAM密钥文件损坏或格式错误：请从发放处恢复正确的密钥文件")
	}
	c := f.terminalIDCheck("software SAM "+path+" loads", kf.TerminalID[:], "")
	if c.Result != selftest.Pass {
		return c
	}
	what := c.Detail + "; keys in a file are for the rig and development only"
	if testKeys(kf) {
		what += ": these are the public TEST KEYS"
	}
	return selftest.Warned("psam", what, `in the field seat a PSAM and set device.sam = "pcsc:READER"`,
		"正在使用软件PSAM（密钥在文件中），仅用于测试和开发：现场设备请安装PSAM卡并设置 device.sam = \"pcsc:读卡器名\"")
}

// testKeys reports whether kf holds one of the public test key sets.
func testKeys(kf sam.KeyFile) bool {
	for _, tk := range sam.TestKeys().Keys {
		for _, k := range kf.Keys {
			if bytes.Equal(k.Purchase, tk.Purchase) {
				return true
			}
		}
	}
	return false
}

// terminalIDCheck passes a PSAM whose terminal id is set and is the one
// the journal's last sale carries; another one warns (the PSAM was
// changed: its sales reach the ledger under the new terminal id).
func (f *selftestFlags) terminalIDCheck(what string, tid []byte, zh string) selftest.Check {
	id := hex.EncodeToString(tid)
	if bytes.Equal(tid, make([]byte, len(tid))) {
		return selftest.Failed("psam", what+": but its terminal id is 000000000000 (not personalised)",
			"use a PSAM issued for this terminal by the card office", "PSAM终端编号为全零（未个人化）：请使用卡务中心为本终端发行的PSAM")
	}
	last := f.facts.lastTerminalID
	if len(last) > 0 && !bytes.Equal(last, tid) {
		return selftest.Warned("psam", fmt.Sprintf("%s with terminal id %s, but the journal's sale %d was made with %s: the PSAM was changed",
			what, id, f.facts.lastTerminalIDRecordAt, hex.EncodeToString(last)),
			"if the PSAM was replaced on purpose, tell campus operations the new terminal id; if not, put the terminal's own PSAM back",
			fmt.Sprintf("PSAM终端编号%s与最近一笔交易的%s不同，PSAM被更换：如系有意更换请报告运维，否则请装回原PSAM", id, hex.EncodeToString(last)))
	}
	if zh == "" {
		zh = "PSAM正常"
	}
	return selftest.Passed("psam", fmt.Sprintf("%s with terminal id %s", what, id), zh)
}

// boardChecks opens the board as `yktd run` does (every relay in its safe
// state), reads its inputs and, with --relays, pulses every relay.
func (f *selftestFlags) boardChecks(ctx context.Context) []selftest.Check {
	c := f.cfg.Board
	if len(c.Relays)+len(c.Inputs)+len(c.Indicators) == 0 {
		return []selftest.Check{selftest.Skipped("board", "no relays, inputs or indicators configured", "未配置继电器和输入"),
			selftest.Skipped("relays", "no relays configured", "未配置继电器")}
	}
	b, err := openBoard(c, f.quiet)
	if err != nil {
		return []selftest.Check{selftest.Failed("board", fmt.Sprintf("the board does not open: %v", err),
			"check the [board] pins against `yktd board pins`, and that the yktd user may use the GPIO chips (group gpio)",
			"板卡无法打开：请用 yktd board pins 核对引脚配置，并确认权限（gpio 组）"),
			selftest.Skipped("relays", "the board did not open", "板卡无法打开，未测试继电器")}
	}
	defer b.Close()
	out := []selftest.Check{f.inputsCheck(b)}
	return append(out, f.relaysCheck(ctx, b))
}

// inputsCheck reads every input's level; an active tamper input warns.
func (f *selftestFlags) inputsCheck(b *board.Board) selftest.Check {
	c := f.cfg.Board
	if len(c.Inputs) == 0 {
		return selftest.Passed("board", fmt.Sprintf("opens (%s); no inputs configured", c.Backend), "板卡正常（未配置输入）")
	}
	levels := make([]string, 0, len(c.Inputs))
	tamper := false
	for _, in := range c.Inputs {
		i, err := b.Input(in.Name)
		if err != nil {
			return selftest.Failed("board", fmt.Sprintf("input %q: %v", in.Name, err), "check the [[board.input]] sections (docs/config.md)", "板卡输入配置错误")
		}
		levels = append(levels, in.Name+"="+activeWord(i.Active()))
		if in.Name == c.Tamper && i.Active() {
			tamper = true
		}
	}
	what := fmt.Sprintf("opens (%s); inputs read: %s", c.Backend, strings.Join(levels, ", "))
	if tamper {
		return selftest.Warned("board", what+": the tamper input is active (the case is open)",
			"close the case; the running daemon then journals the alarm and holds until a technician clears it",
			"防拆输入处于触发状态（机箱打开）：请合上机箱")
	}
	return selftest.Passed("board", what, "板卡正常，输入已读取")
}

// relaysCheck pulses every relay once with --relays.
func (f *selftestFlags) relaysCheck(ctx context.Context, b *board.Board) selftest.Check {
	c := f.cfg.Board
	switch {
	case len(c.Relays) == 0:
		return selftest.Skipped("relays", "no relays configured", "未配置继电器")
	case !f.relays:
		return selftest.Skipped("relays", "not pulsed: run with --relays to pulse each relay once (it moves the turnstile or opens the door)",
			"未测试继电器：加 --relays 参数测试（闸机会动作）")
	}
	var done []string
	for _, rc := range c.Relays {
		r, err := b.Relay(rc.Name)
		if err == nil {
			d := max(selftestPulse, rc.MinPulse.D())
			if err = r.Pulse(ctx, d); err == nil {
				err = r.Wait(ctx)
			}
		}
		if err != nil {
			_ = b.Halt()
			return selftest.Failed("relays", fmt.Sprintf("relay %q: %v (pulsed before it: %s; every relay is back to its safe state)", rc.Name, err, orNone(done)),
				"check the relay's pin and wiring; `yktd relay pulse NAME --config FILE` pulses one", "继电器动作失败：请检查引脚和接线，可用 yktd relay pulse 单独测试")
		}
		done = append(done, fmt.Sprintf("%s (%s)", rc.Name, max(selftestPulse, rc.MinPulse.D())))
	}
	return selftest.Passed("relays", "pulsed "+strings.Join(done, ", ")+", each back to its safe state: check that each moved",
		"继电器已逐个动作并恢复安全状态：请确认闸机/门锁确有动作")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
