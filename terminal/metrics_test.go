package terminal_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/openykt/yktd/terminal"
)

// scrapeMetrics reads /metrics through the control interface with the
// daemon's credential (terminal.ControlClient) and parses it with the
// Prometheus text parser.
func scrapeMetrics(t testing.TB, c *terminal.ControlClient) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", c.URL("/metrics"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("GET /metrics: Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: not the Prometheus text format: %v", err)
	}
	return fams
}

// series finds the metric of family name whose labels include want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// tapCount is yktd_taps_total for kind, outcome and reason (0 if absent).
func tapCount(fams map[string]*dto.MetricFamily, kind, outcome, reason string) float64 {
	m := series(fams, "yktd_taps_total", map[string]string{"kind": kind, "outcome": outcome, "reason": reason})
	if m == nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// tapAgain taps the rig's card and waits for the tap's record, whatever
// its outcome.
func (r *ctlRig) tapAny() terminal.TapRecord {
	r.t.Helper()
	n := len(r.d.Taps(0))
	r.rdr.Tap(r.card)
	defer r.rdr.Remove()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if recs := r.d.Taps(0); len(recs) > n {
			return recs[len(recs)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatal("no tap recorded within 30s")
	return terminal.TapRecord{}
}

// TestMetricsAfterTaps: a sale and a repeat tap on a simulated POS move
// the tap counters by outcome and reason and the latency histograms (each
// phase), the store's commit histogram and write counters, the journal
// gauges; the reader is up; build info names the version. Without the
// credential /metrics is refused.
func TestMetricsAfterTaps(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	c, err := terminal.NewControlClient(r.dir, r.d.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	before := scrapeMetrics(t, c)
	if n := tapCount(before, "pos", "paid", "ok"); n != 0 {
		t.Fatalf("before any tap: %v paid taps", n)
	}
	bi := series(before, "yktd_build_info", map[string]string{"version": "test-1.2.3", "kind": "pos"})
	if bi == nil || bi.GetGauge().GetValue() != 1 {
		t.Errorf("yktd_build_info{version=test-1.2.3,kind=pos} = %v, want 1; families: %v", bi, before["yktd_build_info"])
	}

	r.sell()
	if rec := r.tapAny(); rec.Outcome != "refused" || rec.Code != "repeat_tap" {
		t.Fatalf("the second tap within the repeat guard: %+v, want refused repeat_tap", rec)
	}
	after := scrapeMetrics(t, c)
	if n := tapCount(after, "pos", "paid", "ok"); n != 1 {
		t.Errorf("yktd_taps_total{kind=pos,outcome=paid,reason=ok} = %v, want 1", n)
	}
	if n := tapCount(after, "pos", "refused", "repeat_tap"); n != 1 {
		t.Errorf("yktd_taps_total{kind=pos,outcome=refused,reason=repeat_tap} = %v, want 1", n)
	}
	if f := after["yktd_taps_total"]; f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("yktd_taps_total is a %v, want a counter", f.GetType())
	}
	for _, phase := range []string{"total", "card", "decision", "commit"} {
		m := series(after, "yktd_tap_duration_seconds", map[string]string{"kind": "pos", "phase": phase})
		if m == nil || after["yktd_tap_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
			t.Fatalf("no yktd_tap_duration_seconds histogram for phase %s: %v", phase, after["yktd_tap_duration_seconds"])
		}
		h := m.GetHistogram()
		if h.GetSampleCount() != 2 {
			t.Errorf("phase %s: %d taps observed, want 2", phase, h.GetSampleCount())
		}
		if phase != "decision" && h.GetSampleSum() <= 0 {
			t.Errorf("phase %s: sum %v, want > 0", phase, h.GetSampleSum())
		}
		bs := h.GetBucket()
		if len(bs) == 0 || bs[len(bs)-1].GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("phase %s: buckets %v", phase, bs)
		}
	}
	total := series(after, "yktd_tap_duration_seconds", map[string]string{"kind": "pos", "phase": "total"}).GetHistogram().GetSampleSum()
	var parts float64
	for _, phase := range []string{"card", "decision", "commit"} {
		parts += series(after, "yktd_tap_duration_seconds", map[string]string{"kind": "pos", "phase": phase}).GetHistogram().GetSampleSum()
	}
	if parts > total {
		t.Errorf("the phases add up to %vs, more than the taps' %vs", parts, total)
	}
	// The sale committed its intent (and completion): the commit histogram
	// and bbolt's write counters moved.
	if m := series(after, "yktd_store_commit_seconds", nil); m == nil || m.GetHistogram().GetSampleCount() < 1 {
		t.Errorf("yktd_store_commit_seconds: %v, want a commit observed", m)
	}
	pagesBefore := series(before, "yktd_store_pages_written_total", nil).GetCounter().GetValue()
	if m := series(after, "yktd_store_pages_written_total", nil); m.GetCounter().GetValue() <= pagesBefore {
		t.Errorf("yktd_store_pages_written_total: %v after the sale, %v before", m.GetCounter().GetValue(), pagesBefore)
	}
	if m := series(after, "yktd_store_write_seconds_total", nil); m == nil || m.GetCounter().GetValue() <= 0 {
		t.Errorf("yktd_store_write_seconds_total: %v", m)
	}
	// The sale's intent and completion are in the journal, unacknowledged
	// (no ledger): the backlog is the head.
	head := series(after, "yktd_journal_head_seq", nil).GetGauge().GetValue()
	if head < 2 || series(after, "yktd_sync_backlog_records", nil).GetGauge().GetValue() != head {
		t.Errorf("head %v, backlog %v: want the backlog to be the head (nothing acknowledged)", head,
			series(after, "yktd_sync_backlog_records", nil))
	}
	if m := series(after, "yktd_sync_last_success_timestamp_seconds", nil); m == nil || m.GetGauge().GetValue() != 0 {
		t.Errorf("yktd_sync_last_success_timestamp_seconds: %v, want 0 (never)", m)
	}
	if m := series(after, "yktd_store_capacity_level", nil); m == nil || m.GetGauge().GetValue() != 0 {
		t.Errorf("yktd_store_capacity_level: %v, want 0 (ok)", m)
	}
	if m := series(after, "yktd_store_file_bytes", nil); m == nil || m.GetGauge().GetValue() <= 0 {
		t.Errorf("yktd_store_file_bytes: %v", m)
	}
	if m := series(after, "yktd_reader_up", map[string]string{"reader": "sim:pos"}); m == nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("yktd_reader_up{reader=sim:pos}: %v, want 1", m)
	}

	// Without the credential: refused, and no metric in the answer.
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer " + strings.Repeat("0", 64)}} {
		st, body := r.call("GET", "/metrics", hdr, "")
		if st != http.StatusUnauthorized || strings.Contains(body, "yktd_") {
			t.Errorf("GET /metrics with %v: %d %s, want 401 without metrics", hdr, st, body)
		}
	}
}
