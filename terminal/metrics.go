package terminal

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/terminal/gate"
	"github.com/openykt/yktd/terminal/pos"
)

// The metrics are written with github.com/VictoriaMetrics/metrics (Prometheus
// text exposition with # TYPE lines): a small library with no
// protobuf, chosen over client_golang for the binary's size on the board
// (docs/control.md, /metrics).
func init() { metrics.ExposeMetadata(true) }

// tapBuckets are the upper bounds (seconds) of the tap latency histograms:
// a tap's phases run from a millisecond (a decision) to seconds (a PIN).
var tapBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// commitBuckets are those of the store's commit histogram (an fsync each).
var commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// daemonMetrics are the daemon's metrics: counters and histograms the tap
// path updates, and gauges read from the store at every scrape.
type daemonMetrics struct {
	set *metrics.Set
	// commit observes every commit on a POS tap's path.
	commit *metrics.PrometheusHistogram

	// phases are the tap latency histograms, made at start: the tap path
	// finds them without formatting a name.
	phases map[[2]string]*metrics.PrometheusHistogram

	mu      sync.Mutex
	readers map[string]bool // reader name → its Run is running
	// taps caches the counters of yktd_taps_total by kind, outcome, reason.
	taps map[[3]string]*metrics.Counter

	// psam follows the PSAM's answers (yktd_psam_up).
	psam psamState
}

func newDaemonMetrics() *daemonMetrics {
	m := &daemonMetrics{set: metrics.NewSet(), readers: map[string]bool{}, taps: map[[3]string]*metrics.Counter{},
		phases: map[[2]string]*metrics.PrometheusHistogram{}}
	m.commit = m.set.NewPrometheusHistogramExt("yktd_store_commit_seconds", commitBuckets)
	for _, kp := range [][2]string{{"pos", "total"}, {"pos", "card"}, {"pos", "decision"}, {"pos", "commit"},
		{"gate", "total"}, {"kiosk", "total"}} {
		m.phases[kp] = m.set.NewPrometheusHistogramExt(fmt.Sprintf(`yktd_tap_duration_seconds{kind=%s,phase=%s}`,
			quoteLabel(kp[0]), quoteLabel(kp[1])), tapBuckets)
	}
	return m
}

func (d *Daemon) initMetrics() {
	m := newDaemonMetrics()
	for _, r := range d.deps.Readers {
		m.readers[r.Name()] = false
	}
	version := d.deps.Version
	if version == "" {
		version = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	m.set.NewGauge(fmt.Sprintf(`yktd_build_info{version=%s,goversion=%s,kind=%s}`,
		quoteLabel(version), quoteLabel(runtime.Version()), quoteLabel(d.cfg.Device.Kind)), func() float64 { return 1 })
	m.set.RegisterMetricsWriter(d.writeStoreMetrics)
	d.metrics = m
}

// quoteLabel quotes a label value as the exposition format wants.
func quoteLabel(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// tapped counts one tap (or kiosk step) by kind, outcome and reason.
func (m *daemonMetrics) tapped(kind, outcome, reason string) {
	if reason == "" {
		reason = "none"
	}
	key := [3]string{kind, outcome, reason}
	m.mu.Lock()
	c := m.taps[key]
	if c == nil {
		c = m.set.NewCounter(fmt.Sprintf(`yktd_taps_total{kind=%s,outcome=%s,reason=%s}`,
			quoteLabel(kind), quoteLabel(outcome), quoteLabel(reason)))
		m.taps[key] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// took observes a tap's phase in the latency histogram (one of phases).
func (m *daemonMetrics) took(kind, phase string, d time.Duration) {
	m.phases[[2]string{kind, phase}].Update(d.Seconds())
}

// posTap records a POS tap: its outcome and its phases (pos.Timing).
func (m *daemonMetrics) posTap(res pos.Result) {
	m.tapped("pos", res.Outcome.String(), string(res.Code))
	t := res.Timing
	m.took("pos", "total", t.Total)
	m.took("pos", "card", t.Card)
	m.took("pos", "decision", t.Decision)
	m.took("pos", "commit", t.Commit)
	if t.Commit > 0 {
		m.commit.Update(t.Commit.Seconds())
	}
}

// gateTap records a gate credential: its outcome, its time, the relay it
// pulsed.
func (m *daemonMetrics) gateTap(res gate.Result, total time.Duration) {
	m.tapped("gate", res.Outcome.String(), string(res.Code))
	m.took("gate", "total", total)
	if res.Relay != "" {
		m.set.GetOrCreateCounter(fmt.Sprintf(`yktd_relay_pulses_total{relay=%s}`, quoteLabel(res.Relay))).Inc()
	}
}

// writeStoreMetrics writes, at every scrape, what the store says now.
func (d *Daemon) writeStoreMetrics(w io.Writer) {
	s := d.deps.Store
	if hd, err := s.Head(); err == nil {
		metrics.WriteGaugeUint64(w, "yktd_journal_head_seq", hd.Seq)
		if c, err := s.SyncCursor(); err == nil {
			metrics.WriteGaugeUint64(w, "yktd_journal_acked_seq", c.Seq)
			metrics.WriteGaugeUint64(w, "yktd_sync_backlog_records", hd.Seq-min(c.Seq, hd.Seq))
		}
	}
	if ss, err := s.SyncState(); err == nil {
		var t float64
		if !ss.LastContact.IsZero() {
			t = float64(ss.LastContact.UnixMilli()) / 1000
		}
		metrics.WriteGaugeFloat64(w, "yktd_sync_last_success_timestamp_seconds", t)
	}
	if c, err := s.Capacity(); err == nil {
		metrics.WriteGaugeUint64(w, "yktd_store_capacity_level", uint64(c.Level))
		metrics.WriteGaugeUint64(w, "yktd_store_unacked_records", c.Unacked)
		metrics.WriteGaugeUint64(w, "yktd_store_max_unacked_records", c.MaxUnacked)
		metrics.WriteGaugeUint64(w, "yktd_store_max_bytes", uint64(c.MaxBytes))
	}
	if fi, err := os.Stat(s.Path()); err == nil {
		metrics.WriteGaugeUint64(w, "yktd_store_file_bytes", uint64(fi.Size()))
	}
	if d.deps.SAM != nil {
		switch d.metrics.psam.state.Load() {
		case 1:
			metrics.WriteGaugeUint64(w, "yktd_psam_up", 1)
		default: // failed, or never answered since start
			metrics.WriteGaugeUint64(w, "yktd_psam_up", 0)
		}
		metrics.WriteCounterUint64(w, "yktd_psam_errors_total", d.metrics.psam.errors.Load())
	}
	if sk, ok := d.deps.Sync.(ClockSkewer); ok {
		if skew, at, ok := sk.ClockSkew(); ok {
			metrics.WriteGaugeFloat64(w, "yktd_clock_skew_seconds", skew.Seconds())
			metrics.WriteGaugeFloat64(w, "yktd_clock_skew_measured_timestamp_seconds", float64(at.UnixMilli())/1000)
		}
	}
	pages, spent := s.WriteStats()
	metrics.WriteCounterUint64(w, "yktd_store_pages_written_total", uint64(pages))
	metrics.WriteCounterFloat64(w, "yktd_store_write_seconds_total", spent.Seconds())
	d.metrics.mu.Lock()
	defer d.metrics.mu.Unlock()
	if len(d.metrics.readers) > 0 {
		metrics.WriteMetadataIfNeeded(w, "yktd_reader_up", "gauge")
		for _, name := range slices.Sorted(maps.Keys(d.metrics.readers)) {
			v := 0
			if d.metrics.readers[name] {
				v = 1
			}
			fmt.Fprintf(w, "yktd_reader_up{reader=%s} %d\n", quoteLabel(name), v)
		}
	}
}

// watchReaders wraps the readers so that yktd_reader_up follows them: a
// reader is up while its Run runs (reader.Manager restarts a failed one).
func (m *daemonMetrics) watchReaders(rs []reader.Reader) []reader.Reader {
	out := make([]reader.Reader, len(rs))
	for i, r := range rs {
		out[i] = upReader{Reader: r, m: m}
	}
	return out
}

type upReader struct {
	reader.Reader
	m *daemonMetrics
}

func (u upReader) Run(ctx context.Context, events chan<- reader.Event) error {
	u.m.setUp(u.Name(), true)
	defer u.m.setUp(u.Name(), false)
	return u.Reader.Run(ctx, events)
}

func (m *daemonMetrics) setUp(name string, up bool) {
	m.mu.Lock()
	m.readers[name] = up
	m.mu.Unlock()
}

// serveMetrics answers GET /metrics: the Prometheus text exposition.
func (d *Daemon) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	d.metrics.set.WritePrometheus(w)
}
