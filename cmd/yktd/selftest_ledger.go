package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openykt/yktd/internal/devkey"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/terminal/selftest"
)

// ledgerProbe is what became of the selftest's signed requests to the
// ledger: a rules request, then (with the status list version known) a
// status request, each with the version held, as a sync round sends them.
// Their answers are verified with the pinned ledger key and not applied.
type ledgerProbe struct {
	answer selftest.Answer
	err    error
	rtt    time.Duration
	key    string // the device key's fingerprint
	// skew is the ledger's time minus this clock, from the HTTP Date
	// header of its last answer (the protocol's status and rules answers
	// carry no time), within resolution; resolution 0: no Date.
	skew, resolution time.Duration
	// statusAnswered, rulesAnswered: the ledger answered that request;
	// statusNewer, rulesNewer the newer version it offered (0: current).
	statusAnswered, rulesAnswered bool
	statusNewer, rulesNewer       uint64
}

// probeLedger asks the ledger, signed with the device key, for the rules
// and the status list from the versions held. Nothing is written: the
// answers go to sinks that only note the versions offered.
func (f *selftestFlags) probeLedger(ctx context.Context) ledgerProbe {
	cfg := f.cfg
	if cfg.Sync.Ledger == "" {
		return ledgerProbe{answer: selftest.NoLedger}
	}
	dir := identityDir(cfg)
	k, err := devkey.InDir(dir).Load()
	if err != nil {
		return ledgerProbe{answer: selftest.NotAsked, err: fmt.Errorf("no device key: %w", err)}
	}
	lp := ledgerProbe{key: k.Fingerprint()}
	b, err := os.ReadFile(filepath.Join(dir, ledgerKeyFile))
	if err != nil {
		lp.answer, lp.err = selftest.NotAsked, fmt.Errorf("no pinned ledger key (%s): the device was never enrolled", filepath.Join(dir, ledgerKeyFile))
		return lp
	}
	pk, err := protocol.DecodePublicKeyPEM(b)
	if err != nil {
		lp.answer, lp.err = selftest.NotAsked, fmt.Errorf("pinned ledger key %s: %w", filepath.Join(dir, ledgerKeyFile), err)
		return lp
	}
	signer, err := k.Signer(cfg.Device.ID)
	if err != nil {
		lp.answer, lp.err = selftest.NotAsked, fmt.Errorf("device key: %w", err)
		return lp
	}
	opts, err := syncOptions(cfg, signer, nil, f.quiet)
	if err != nil {
		lp.answer, lp.err = selftest.Unreachable, err
		return lp
	}
	rec := &answerRecorder{rt: opts.HTTP.Transport, now: selftestEnv.now}
	if rec.rt == nil {
		rec.rt = http.DefaultTransport
	}
	hc := *opts.HTTP
	hc.Transport = rec
	opts.HTTP = &hc
	status, haveStatus := f.statusHave()
	st := &probeStatus{have: status}
	ru := &probeRules{have: f.rulesHave()}
	opts.Status, opts.Rules = st, ru
	opts.LedgerKeys = protocol.NewKeys(pk)
	c, err := syncclient.New(opts)
	if err != nil {
		lp.answer, lp.err = selftest.Unreachable, err
		return lp
	}
	pctx, cancel := context.WithTimeout(ctx, min(cfg.Sync.Timeout.D(), f.remaining()))
	defer cancel()
	began := time.Now()
	_, err = c.PullRules(pctx)
	lp.rtt = time.Since(began)
	lp.answer, lp.err = classifyAnswer(err, rec.status())
	if lp.answer == selftest.Answered {
		lp.rulesAnswered, lp.rulesNewer = true, ru.newer
		if haveStatus {
			_, err = c.PullStatus(pctx)
			if a, e := classifyAnswer(err, rec.status()); a == selftest.Answered {
				lp.statusAnswered, lp.statusNewer = true, st.newer
			} else {
				lp.answer, lp.err = a, e
			}
		}
	}
	lp.skew, lp.resolution = rec.skew()
	return lp
}

// statusHave is the status list version held, as the store or the running
// daemon says; false when it is not known (a store held by a process that
// cannot be asked): the status list is then not asked for, since the
// answer to version 0 is the whole list.
func (f *selftestFlags) statusHave() (uint64, bool) {
	switch d := f.facts; {
	case d.mode == selftest.Daemon:
		return d.health.StatusList.Version, true
	case d.mode == selftest.Alone && d.openErr == nil && d.statusErr == nil:
		return d.status.Version, true
	}
	return 0, false
}

// rulesHave is the rules version held (0 when not known: the rules are
// small).
func (f *selftestFlags) rulesHave() uint64 {
	if d := f.facts; d.mode == selftest.Daemon {
		return d.health.Rules.Version
	}
	return f.facts.rulesVersion
}

// classifyAnswer tells what the ledger's answer to a request was, from the
// client's error and the HTTP status of the last answer (0: none came).
func classifyAnswer(err error, status int) (selftest.Answer, error) {
	switch {
	case err == nil:
		return selftest.Answered, nil
	case errors.Is(err, syncclient.ErrDeviceRevoked), status >= 400 && errors.Is(err, protocol.ErrRevoked):
		return selftest.Revoked, err
	case status >= 400 && status < 500 && (errors.Is(err, protocol.ErrUnknownDevice) || errors.Is(err, protocol.ErrBadSignature)):
		return selftest.UnknownDevice, err
	case status == 0, status >= 500, status == http.StatusTooManyRequests:
		return selftest.Unreachable, err
	}
	return selftest.BadAnswer, err
}

// answerRecorder is the probe's transport: it notes the HTTP status and
// the Date header of the last answer and when it was sent and came.
type answerRecorder struct {
	rt  http.RoundTripper
	now func() time.Time

	mu         sync.Mutex
	code       int
	date       time.Time
	sent, recv time.Time
}

// RoundTrip sends req and records its answer.
func (a *answerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := a.now()
	resp, err := a.rt.RoundTrip(req)
	recv := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.code = 0
	if err != nil {
		return resp, err
	}
	a.code = resp.StatusCode
	if d, derr := http.ParseTime(resp.Header.Get("Date")); derr == nil {
		a.date, a.sent, a.recv = d, sent, recv
	}
	return resp, nil
}

func (a *answerRecorder) status() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.code
}

// skew is the ledger's time minus this clock at the last dated answer, and
// how precise it is: the Date header has whole seconds (the ledger's time
// lies in [date, date+1s)), and the answer was made somewhen during the
// round trip.
func (a *answerRecorder) skew() (skew, resolution time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.date.IsZero() {
		return 0, 0
	}
	rtt := a.recv.Sub(a.sent)
	mid := a.sent.Add(rtt / 2)
	return a.date.Add(500 * time.Millisecond).Sub(mid), 500*time.Millisecond + rtt/2
}

// probeStatus is the status sink of the probe: it reports the version held
// and notes a newer one offered, applying nothing.
type probeStatus struct {
	have, newer uint64
}

func (p *probeStatus) StatusVersion() (uint64, error) { return p.have, nil }

func (p *probeStatus) ApplyStatusSnapshot(m protocol.StatusSnapshot) error {
	if m.Version > p.have {
		p.newer = m.Version
	}
	return nil
}

func (p *probeStatus) ApplyStatusDelta(m protocol.StatusDelta) error {
	p.newer = m.To
	return nil
}

// probeRules is the rules sink of the probe, as probeStatus.
type probeRules struct {
	have, newer uint64
}

func (p *probeRules) RulesVersion() (uint64, error) { return p.have, nil }

func (p *probeRules) PutRules(version uint64, _ []byte, _ protocol.Rules) error {
	p.newer = version
	return nil
}

// ledgerChecks are the checks that take the ledger's answer: the ledger,
// the enrolment, the clock, the status list and the rules.
func (f *selftestFlags) ledgerChecks(lp ledgerProbe) []selftest.Check {
	cfg, d := f.cfg, f.facts
	now := selftestEnv.now()
	lf := selftest.LedgerFacts{URL: cfg.Sync.Ledger, Answer: lp.answer, Err: lp.err, RTT: lp.rtt, Now: now,
		Device: cfg.Device.ID, Key: lp.key}
	if cfg.Sync.Ledger != "" {
		lf.MaxOffline = cfg.Sync.MaxOffline.D()
	}
	known := true
	switch {
	case d.mode == selftest.Daemon:
		lf.LastContact, lf.StoreRevoked = d.health.Sync.LastContact, d.health.Sync.Revoked
		lf.RevokedAt = d.health.Sync.RevokedAt
	case d.mode == selftest.Alone && d.openErr == nil && d.syncErr == nil:
		lf.LastContact, lf.StoreRevoked, lf.RevokedAt = d.sync.LastContact, d.sync.Revoked, d.sync.RevokedAt
	default:
		known = false
	}
	var out []selftest.Check
	if !known && lp.answer == selftest.Unreachable {
		out = append(out, selftest.Warned("ledger", fmt.Sprintf("%s unreachable (%v); the last contact is not known (the store was not read)", cfg.Sync.Ledger, lp.err),
			fmt.Sprintf("check the network to %s (cable, Wi-Fi, firewall, proxy) and that the ledger runs", cfg.Sync.Ledger),
			"中心不可达（无法读取上次通信时间）：请检查网络和中心服务"))
	} else {
		out = append(out, selftest.Ledger(lf))
	}
	out = append(out, selftest.Enrolment(lf))

	cf := selftest.ClockFacts{Now: now, Built: builtAt(), Latest: d.latest}
	if lp.resolution > 0 {
		cf.Ledger, cf.LedgerSource, cf.Resolution = now.Add(lp.skew), "HTTP Date header of its answer", lp.resolution
	}
	out = append(out, selftest.Clock(cf))

	status := selftest.ListFacts{Kind: cfg.Device.Kind, Now: now, LastContact: lf.LastContact, MaxOffline: lf.MaxOffline,
		Answered: lp.statusAnswered, Newer: lp.statusNewer}
	rules := status
	rules.Answered, rules.Newer = lp.rulesAnswered, lp.rulesNewer
	switch {
	case d.mode == selftest.Daemon:
		status.Version, status.Cards = d.health.StatusList.Version, d.health.StatusList.Cards
		rules.Version = d.health.Rules.Version
	case d.mode == selftest.Alone && d.openErr == nil:
		status.Version, status.Cards, status.Err = d.status.Version, d.status.Count, errors.Join(d.statusErr, d.syncErr)
		rules.Version, rules.Issued, rules.Err = d.rulesVersion, d.rulesIssued, errors.Join(d.rulesErr, d.syncErr)
	case d.mode == selftest.Alone:
		why := "the store did not open (see store)"
		return append(out, selftest.Skipped("status_list", why, "数据文件无法打开，未检查"), selftest.Skipped("rules", why, "数据文件无法打开，未检查"))
	default:
		return append(out, f.heldSkip("status_list"), f.heldSkip("rules"))
	}
	return append(out, selftest.StatusList(status), selftest.Rules(rules))
}
