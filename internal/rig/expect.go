package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal"
)

// errNotYet is what a check returns while what it waits for has not
// happened; anything else ends the wait at once.
type notYet struct{ what string }

func (e *notYet) Error() string { return e.what }

func pending(format string, args ...any) error { return &notYet{fmt.Sprintf(format, args...)} }

// pollEvery is how often a condition is looked at again (bounded by each
// step's within).
const pollEvery = 50 * time.Millisecond

// poll calls check until it returns nil, an error that is not a notYet,
// or the deadline passes (then the last notYet is the failure).
func poll(ctx context.Context, deadline time.Time, what string, check func(context.Context) error) error {
	for {
		err := check(ctx)
		var ny *notYet
		if err == nil || !errors.As(err, &ny) {
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within the step's time: %s", what, ny.what)
		}
		t := time.NewTimer(pollEvery)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (last: %s)", what, ctx.Err(), ny.what)
		}
	}
}

// expectAll waits for every expectation of the step (each up to the
// step's within, counted from the end of the action).
func (r *scenarioRun) expectAll(ctx context.Context, s *Step) error {
	e := &s.Expect
	if !e.any() {
		return nil
	}
	within := s.Within.D()
	if within == 0 {
		within = r.sc.Within.D()
	}
	deadline := time.Now().Add(within)
	d := r.devices[s.At]
	type check struct {
		what string
		fn   func(context.Context) error
	}
	var checks []check
	add := func(what string, fn func(context.Context) error) { checks = append(checks, check{what, fn}) }
	if e.Tap != nil {
		add("tap at "+s.At, func(ctx context.Context) error { return r.checkTap(ctx, d, e.Tap, deadline) })
	}
	for _, t := range e.Display {
		t, err := r.expand(t)
		if err != nil {
			return err
		}
		add(fmt.Sprintf("display of %s shows %q", s.At, t), func(context.Context) error {
			if got := d.display(); !strings.Contains(got, t) {
				return pending("the display since the last action shows:\n%s", lastLines(got, 12))
			}
			return nil
		})
	}
	for _, t := range e.Log {
		t, err := r.expand(t)
		if err != nil {
			return err
		}
		add(fmt.Sprintf("log of %s has %q", s.At, t), func(context.Context) error {
			if got := d.logSince(); !strings.Contains(got, t) {
				return pending("the log since the last action ends:\n%s", lastLines(got, 8))
			}
			return nil
		})
	}
	cardNames := make([]string, 0, len(e.Cards))
	for n := range e.Cards {
		cardNames = append(cardNames, n)
	}
	sort.Strings(cardNames)
	for _, n := range cardNames {
		add("card "+n, func(context.Context) error { return r.checkCard(n, e.Cards[n]) })
	}
	for i := range e.Journal {
		j := &e.Journal[i]
		add(fmt.Sprintf("journal of %s: %s", s.At, j.describe()), func(ctx context.Context) error { return r.checkJournal(ctx, d, j) })
	}
	if len(e.Ledger) > 0 {
		add("ledger report", func(ctx context.Context) error {
			return r.checkDoc(ctx, e.Ledger, func(ctx context.Context) ([]byte, error) {
				out, err := r.ledger.must(ctx, "report", "--json")
				return []byte(out), err
			})
		})
	}
	ids := make([]string, 0, len(e.Accounts))
	for id := range e.Accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		add("ledger account "+id, func(ctx context.Context) error {
			who, err := r.expand(id)
			if err != nil {
				return err
			}
			return r.checkDoc(ctx, e.Accounts[id], func(ctx context.Context) ([]byte, error) {
				out, err := r.ledger.must(ctx, "account show", "--json", who)
				return []byte(out), err
			})
		})
	}
	if len(e.Devices) > 0 {
		add("ledger device list", func(ctx context.Context) error {
			return r.checkDoc(ctx, e.Devices, func(ctx context.Context) ([]byte, error) {
				out, err := r.ledger.must(ctx, "device list", "--json")
				return []byte(out), err
			})
		})
	}
	if len(e.Health) > 0 {
		add("health of "+s.At, func(ctx context.Context) error {
			return r.checkDoc(ctx, e.Health, func(ctx context.Context) ([]byte, error) {
				if err := d.need(); err != nil {
					return nil, err
				}
				var raw jsonRaw
				err := d.ctl.Get(ctx, "/v1/health", &raw)
				return raw, err
			})
		})
	}
	if len(e.Relays) > 0 {
		add("relays of "+s.At, func(ctx context.Context) error { return r.checkRelays(ctx, d, e.Relays) })
	}
	if e.Exit != nil {
		if s.Action() == "ledgerd" {
			add("ledgerd's exit code", func(context.Context) error {
				if r.lastCmd.code != *e.Exit {
					return fmt.Errorf("exit %d, want %d: %s", r.lastCmd.code, *e.Exit, strings.TrimSpace(r.lastCmd.stderr))
				}
				return nil
			})
		} else {
			add(fmt.Sprintf("%s exits with %d", s.At, *e.Exit), func(context.Context) error {
				if d.proc == nil || d.proc.running() {
					return pending("still running")
				}
				if d.proc.code != *e.Exit {
					return fmt.Errorf("%s", d.proc.exitText())
				}
				return nil
			})
		}
	}
	for _, t := range e.Output {
		t, err := r.expand(t)
		if err != nil {
			return err
		}
		add(fmt.Sprintf("ledgerd's output has %q", t), func(context.Context) error {
			if out := r.lastCmd.stdout + r.lastCmd.stderr; !strings.Contains(out, t) {
				return fmt.Errorf("it said: %s", strings.TrimSpace(out))
			}
			return nil
		})
	}
	if e.Status != nil {
		add(fmt.Sprintf("%s's answer is %d", s.Control, *e.Status), func(context.Context) error {
			if r.lastCtl.status != *e.Status {
				return fmt.Errorf("%d: %s", r.lastCtl.status, strings.TrimSpace(string(r.lastCtl.body)))
			}
			return nil
		})
	}
	if len(e.Response) > 0 {
		add(s.Control+"'s answer", func(ctx context.Context) error {
			err := r.checkDoc(ctx, e.Response, func(context.Context) ([]byte, error) { return r.lastCtl.body, nil })
			var ny *notYet
			if errors.As(err, &ny) {
				return errors.New(ny.what) // the answer is given: it cannot change
			}
			return err
		})
	}
	if e.Kiosk != nil {
		add("the kiosk's answer", func(context.Context) error { return r.checkKiosk(e.Kiosk) })
	}
	if e.Running != nil {
		add(fmt.Sprintf("%s running: %v", s.At, *e.Running), func(context.Context) error {
			if d.running() != *e.Running {
				state := "running"
				if !d.running() {
					state = "not running"
					if d.proc != nil {
						state += " (" + d.proc.exitText() + ")"
					}
				}
				return pending("%s", state)
			}
			return nil
		})
	}
	for _, c := range checks {
		if err := poll(ctx, deadline, c.what, c.fn); err != nil {
			return err
		}
		r.tl.add("ok", "%s", c.what)
	}
	// What must not have been shown is checked once the rest held.
	for _, t := range e.NoDisplay {
		t, err := r.expand(t)
		if err != nil {
			return err
		}
		if got := d.display(); strings.Contains(got, t) {
			return fmt.Errorf("display of %s shows %q, which it must not:\n%s", s.At, t, lastLines(got, 12))
		}
		r.tl.add("ok", "display of %s does not show %q", s.At, t)
	}
	for i, t := range e.NoLog {
		t, err := r.expand(t)
		if err != nil {
			return err
		}
		// The text itself is not repeated: it is often a secret the
		// device must not have written (a PIN, an ID number).
		where, err := r.logHas(d, t)
		if err != nil {
			return err
		}
		if where != "" {
			return fmt.Errorf("the log of %s has a text it must not have (expect.no_log[%d]): %s", s.At, i, where)
		}
		r.tl.add("ok", "the logs of %s do not have expect.no_log[%d]", s.At, i)
	}
	return nil
}

// logHas looks for t in every output of every run of d (logs/NAME.*) and
// returns the file and line where it is, or "".
func (r *scenarioRun) logHas(d *device, t string) (string, error) {
	files, err := filepath.Glob(filepath.Join(r.logs, d.spec.Name+".*"))
	if err != nil {
		return "", fmt.Errorf("rig: %s's logs: %w", d.spec.Name, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("rig: %w", err)
		}
		if i := strings.Index(string(b), t); i >= 0 {
			return fmt.Sprintf("%s line %d", filepath.Base(f), strings.Count(string(b[:i]), "\n")+1), nil
		}
	}
	return "", nil
}

// kioskAnswer is what the rig reads of a kiosk step's answer (kiosk.Step
// as the control interface gives it).
type kioskAnswer struct {
	Service   string `json:"service"`
	Outcome   string `json:"outcome"`
	Code      string `json:"code"`
	Card      string `json:"card"`
	Balance   int64  `json:"balance"`
	TriesLeft int    `json:"tries_left"`
	Writes    []struct {
		Field   string `json:"field"`
		Outcome string `json:"outcome"`
	} `json:"writes"`
	Message string `json:"message"`
}

// checkKiosk compares the kiosk step's answer; it is given, so a mismatch
// fails at once.
func (r *scenarioRun) checkKiosk(want *KioskExpect) error {
	var got kioskAnswer
	if err := json.Unmarshal(r.lastCtl.body, &got); err != nil {
		return fmt.Errorf("the answer (%d) is not a kiosk step: %v: %s", r.lastCtl.status, err, strings.TrimSpace(string(r.lastCtl.body)))
	}
	var bad []string
	if want.Service != "" && got.Service != want.Service {
		bad = append(bad, fmt.Sprintf("service %s, want %s", got.Service, want.Service))
	}
	if want.Outcome != "" && got.Outcome != want.Outcome {
		bad = append(bad, fmt.Sprintf("outcome %s, want %s", got.Outcome, want.Outcome))
	}
	if want.Code != "" && got.Code != want.Code {
		bad = append(bad, fmt.Sprintf("code %s, want %s", got.Code, want.Code))
	}
	if want.Card != "" && got.Card != r.cardNos[want.Card] {
		bad = append(bad, fmt.Sprintf("card %s, want %s (%s)", got.Card, r.cardNos[want.Card], want.Card))
	}
	if want.Balance != nil && got.Balance != *want.Balance {
		bad = append(bad, fmt.Sprintf("balance %d, want %d", got.Balance, *want.Balance))
	}
	if want.TriesLeft != nil && got.TriesLeft != *want.TriesLeft {
		bad = append(bad, fmt.Sprintf("tries left %d, want %d", got.TriesLeft, *want.TriesLeft))
	}
	if want.Writes != nil {
		outs := make([]string, len(got.Writes))
		for i, w := range got.Writes {
			outs[i] = w.Outcome
		}
		if !slices.Equal(outs, want.Writes) {
			bad = append(bad, fmt.Sprintf("writes %v, want %v", outs, want.Writes))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s/%s (%s): %s", got.Outcome, got.Code, got.Message, strings.Join(bad, "; "))
	}
	return nil
}

type jsonRaw []byte

func (j *jsonRaw) UnmarshalJSON(b []byte) error { *j = append((*j)[:0], b...); return nil }

// checkTap takes the device's next tap record and compares it.
func (r *scenarioRun) checkTap(ctx context.Context, d *device, want *TapExpect, deadline time.Time) error {
	if err := d.need(); err != nil {
		return err
	}
	wait := min(time.Until(deadline), 25*time.Second)
	if wait < 0 {
		wait = 0
	}
	recs, err := d.ctl.Taps(ctx, d.tapSeen, wait)
	if err != nil {
		return err
	}
	// A kiosk session's steps asked through the control interface are
	// the control step's answer, not a tap.
	for len(recs) > 0 && recs[0].API {
		d.tapSeen = recs[0].N
		recs = recs[1:]
	}
	if len(recs) == 0 {
		return pending("no tap reported")
	}
	got := recs[0]
	d.tapSeen = got.N
	r.tl.add("info", "%s tap %d: %s%s %s card %s amount %d balance %d%s", d.spec.Name, got.N, flowPrefix(got.Flow), got.Outcome, got.Code, got.Card,
		got.Amount, got.Balance, map[bool]string{true: " (recovered)"}[got.Recovered])
	var bad []string
	if want.Flow != "" && got.Flow != want.Flow {
		bad = append(bad, fmt.Sprintf("flow %s, want %s", got.Flow, want.Flow))
	}
	if want.Outcome != "" && got.Outcome != want.Outcome {
		bad = append(bad, fmt.Sprintf("outcome %s, want %s", got.Outcome, want.Outcome))
	}
	if want.Code != "" && got.Code != want.Code {
		bad = append(bad, fmt.Sprintf("code %s, want %s", got.Code, want.Code))
	}
	if want.Card != "" && got.Card != r.cardNos[want.Card] {
		bad = append(bad, fmt.Sprintf("card %s, want %s (%s)", got.Card, r.cardNos[want.Card], want.Card))
	}
	if want.Amount != nil && got.Amount != *want.Amount {
		bad = append(bad, fmt.Sprintf("amount %d, want %d", got.Amount, *want.Amount))
	}
	if want.Balance != nil && got.Balance != *want.Balance {
		bad = append(bad, fmt.Sprintf("balance %d, want %d", got.Balance, *want.Balance))
	}
	if want.Recovered != nil && got.Recovered != *want.Recovered {
		bad = append(bad, fmt.Sprintf("recovered %v, want %v", got.Recovered, *want.Recovered))
	}
	if len(bad) > 0 {
		return fmt.Errorf("the next tap (%d) was %s/%s: %s", got.N, got.Outcome, got.Code, strings.Join(bad, "; "))
	}
	return nil
}

// flowPrefix names a tap's flow in the timeline, where it is not the
// device's usual one (a kiosk's, a POS's claim before the sale).
func flowPrefix(flow string) string {
	switch flow {
	case "", KindPOS, KindGate:
		return ""
	}
	return flow + " "
}

// checkCard compares a card's state file.
func (r *scenarioRun) checkCard(name string, want CardExpect) error {
	st, err := cardStatus(r.cards, name)
	if err != nil {
		return err
	}
	var bad []string
	if want.Balance != nil && int64(st.Balance) != *want.Balance {
		bad = append(bad, fmt.Sprintf("balance %d, want %d", st.Balance, *want.Balance))
	}
	if want.OfflineCounter != nil && int(st.OfflineCounter) != *want.OfflineCounter {
		bad = append(bad, fmt.Sprintf("offline counter %d, want %d", st.OfflineCounter, *want.OfflineCounter))
	}
	if want.OnlineCounter != nil && int(st.OnlineCounter) != *want.OnlineCounter {
		bad = append(bad, fmt.Sprintf("online counter %d, want %d", st.OnlineCounter, *want.OnlineCounter))
	}
	if want.PINTries != nil && st.PINTries != *want.PINTries {
		bad = append(bad, fmt.Sprintf("PIN tries %d, want %d", st.PINTries, *want.PINTries))
	}
	if len(bad) > 0 {
		return pending("%s", strings.Join(bad, "; "))
	}
	return nil
}

func (j *JournalExpect) describe() string {
	var parts []string
	for _, kv := range [][2]string{{"kind", j.Kind}, {"card", j.Card}, {"reason", j.Reason}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if j.Amount != nil {
		parts = append(parts, fmt.Sprintf("amount %d", *j.Amount))
	}
	if j.Version != nil {
		parts = append(parts, fmt.Sprintf("version %d", *j.Version))
	}
	switch {
	case j.Count != nil:
		parts = append(parts, fmt.Sprintf("exactly %d", *j.Count))
	case j.Min != nil:
		parts = append(parts, fmt.Sprintf("at least %d", *j.Min))
	}
	return strings.Join(parts, ", ")
}

// journal reads the whole journal of d: through GET /v1/journal while it
// runs (it holds the store), from the store itself once it has stopped.
func (r *scenarioRun) journal(ctx context.Context, d *device) ([]terminal.JournalEntry, error) {
	if d.running() && d.ctl != nil {
		var all []terminal.JournalEntry
		for {
			var page []terminal.JournalEntry
			q := url.Values{"after": {fmt.Sprint(len(all))}, "limit": {"1000"}}
			if len(all) > 0 {
				q.Set("after", fmt.Sprint(all[len(all)-1].Seq))
			}
			if err := d.ctl.Get(ctx, "/v1/journal?"+q.Encode(), &page); err != nil {
				return nil, err
			}
			all = append(all, page...)
			if len(page) < 1000 {
				return all, nil
			}
		}
	}
	s, err := offline.Open(filepath.Join(d.dir, "yktd.db"), offline.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("rig: %s's store: %w", d.spec.Name, err)
	}
	defer s.Close()
	h, err := s.Head()
	if err != nil {
		return nil, err
	}
	es, err := s.Records(0, int(h.Seq))
	if err != nil {
		return nil, err
	}
	out := make([]terminal.JournalEntry, 0, len(es))
	for _, e := range es {
		out = append(out, terminal.JournalEntry{Seq: e.Record.Seq, Time: e.Record.WallTime(), Kind: e.Record.Kind.String(), Record: e.Record})
	}
	return out, nil
}

// checkJournal counts the records that match.
func (r *scenarioRun) checkJournal(ctx context.Context, d *device, j *JournalExpect) error {
	es, err := r.journal(ctx, d)
	if err != nil {
		return err
	}
	n := 0
	kinds := map[string]int{}
	for _, e := range es {
		kinds[e.Kind]++
		rec := e.Record
		switch {
		case j.Kind != "" && e.Kind != j.Kind,
			j.Card != "" && rec.CardNo != r.cardNos[j.Card],
			j.Reason != "" && !matchReason(rec.Reason, j.Reason),
			j.Amount != nil && rec.Amount != *j.Amount,
			j.Version != nil && rec.Version != *j.Version:
			continue
		}
		n++
	}
	switch {
	case j.Count != nil && n == *j.Count, j.Count == nil && n >= orOne(j.Min):
		return nil
	case j.Count != nil && n > *j.Count:
		return fmt.Errorf("%d records match, want exactly %d", n, *j.Count)
	}
	return pending("%d records match (the journal holds %d: %v)", n, len(es), kinds)
}

func orOne(p *int) int {
	if p == nil {
		return 1
	}
	return *p
}

// checkDoc fetches a JSON document and checks each path.
func (r *scenarioRun) checkDoc(ctx context.Context, want map[string]any, fetch func(context.Context) ([]byte, error)) error {
	b, err := fetch(ctx)
	if err != nil {
		return pending("%v", err)
	}
	doc, err := decodeJSON(b)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var bad []string
	for _, p := range paths {
		ep, err := r.expand(p)
		if err != nil {
			return err
		}
		w, err := r.expandAny(want[p])
		if err != nil {
			return err
		}
		segs, err := parsePath(ep)
		if err != nil {
			return err
		}
		got, ok := lookup(doc, segs)
		if found, match := matchWant(got, ok, w); !match {
			bad = append(bad, fmt.Sprintf("%s is %s, want %v", ep, found, w))
		}
	}
	if len(bad) > 0 {
		return pending("%s", strings.Join(bad, "; "))
	}
	return nil
}

// checkRelays compares the pulses of the device's simulated relays.
func (r *scenarioRun) checkRelays(ctx context.Context, d *device, want map[string]int) error {
	if err := d.need(); err != nil {
		return err
	}
	var board struct {
		Relays []struct {
			Name   string `json:"name"`
			Pulses int    `json:"pulses"`
		} `json:"relays"`
	}
	if err := d.ctl.Get(ctx, "/sim/board", &board); err != nil {
		return err
	}
	got := map[string]int{}
	for _, rl := range board.Relays {
		got[rl.Name] = rl.Pulses
	}
	var bad []string
	for name, n := range want {
		g, ok := got[name]
		if !ok {
			return fmt.Errorf("no relay %q (the board has %v)", name, got)
		}
		if g > n {
			return fmt.Errorf("%s pulsed %d times, want %d", name, g, n)
		}
		if g < n {
			bad = append(bad, fmt.Sprintf("%s pulsed %d times, want %d", name, g, n))
		}
	}
	if len(bad) > 0 {
		return pending("%s", strings.Join(bad, "; "))
	}
	return nil
}

// matchReason: a wanted reason ending in * matches by prefix
// ("status-*": status-snapshot and status-delta).
func matchReason(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}
