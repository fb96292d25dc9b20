package selftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal/config"
)

var (
	t0    = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	built = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	week  = 7 * 24 * time.Hour
)

// want checks a check's name, result and that its detail holds every
// fragment; a warning or failure must say what to do and carry Chinese.
func want(t *testing.T, c Check, name string, res Result, fragments ...string) {
	t.Helper()
	if c.Name != name || c.Result != res {
		t.Fatalf("check %q %s, want %q %s: %+v", c.Name, c.Result, name, res, c)
	}
	for _, f := range fragments {
		if !strings.Contains(c.Detail, f) {
			t.Errorf("detail %q lacks %q", c.Detail, f)
		}
	}
	if c.ZH == "" || !strings.ContainsFunc(c.ZH, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Errorf("no Chinese line: %+v", c)
	}
	if (res == Warn || res == Fail) && c.Fix == "" {
		t.Errorf("a %s without what to do: %+v", res, c)
	}
}

func TestClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    ClockFacts
		res  Result
		frag string
	}{
		{"plausible, no ledger", ClockFacts{Now: t0, Built: built, Latest: t0.Add(-time.Hour)}, Pass, "not compared with the ledger"},
		{"before the build", ClockFacts{Now: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Built: built}, Fail, "before this yktd was built"},
		{"behind the journal", ClockFacts{Now: t0, Built: built, Latest: t0.Add(time.Hour)}, Fail, "went back"},
		{"behind the journal within the slack", ClockFacts{Now: t0, Built: built, Latest: t0.Add(time.Second)}, Pass, ""},
		{"near the ledger", ClockFacts{Now: t0, Built: built, Ledger: t0.Add(3 * time.Second), LedgerSource: "HTTP Date header", Resolution: time.Second}, Pass, "3s ahead"},
		{"a minute off", ClockFacts{Now: t0, Built: built, Ledger: t0.Add(-time.Minute), Resolution: time.Second}, Warn, "1m behind"},
		{"an hour off", ClockFacts{Now: t0, Built: built, Ledger: t0.Add(time.Hour), Resolution: time.Second}, Fail, "1h 0m ahead"},
		{"just under the warning with the resolution", ClockFacts{Now: t0, Built: built, Ledger: t0.Add(ClockSkewWarn + 500*time.Millisecond), Resolution: time.Second}, Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { want(t, Clock(tc.f), "clock", tc.res, tc.frag) })
	}
}

func TestDisk(t *testing.T) {
	for _, tc := range []struct {
		name        string
		free, total uint64
		err         error
		res         Result
	}{
		{"plenty", 2 << 30, 8 << 30, nil, Pass},
		{"under the warning", 100 << 20, 1 << 30, nil, Warn},
		{"under five percent", 300 << 20, 16 << 30, nil, Warn},
		{"critical", 10 << 20, 8 << 30, nil, Fail},
		{"unreadable", 0, 0, errors.New("statfs: no such file"), Warn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, Disk(DiskFacts{Path: "/var/lib/yktd", Free: tc.free, Total: tc.total, Err: tc.err}), "disk", tc.res)
		})
	}
}

func TestCapacity(t *testing.T) {
	k := offline.Capacity{Unacked: 10, MaxUnacked: 500_000, Reserve: 1000}
	want(t, Capacity(CapacityFacts{Capacity: k}), "capacity", Pass, "10 records", "499000")
	k.Level = offline.LevelNearlyFull
	want(t, Capacity(CapacityFacts{Capacity: k}), "capacity", Warn, "nearly full")
	k.Level = offline.LevelFull
	want(t, Capacity(CapacityFacts{Capacity: k}), "capacity", Fail, "new purchases are refused")
	want(t, Capacity(CapacityFacts{Err: errors.New("closed")}), "capacity", Warn, "closed")
}

func TestStore(t *testing.T) {
	ok := offline.VerifyResult{First: 4, Count: 3, Head: offline.Head{Seq: 6}}
	for _, tc := range []struct {
		name string
		f    StoreFacts
		res  Result
		frag string
	}{
		{"verified", StoreFacts{Verified: ok, Acked: 3}, Pass, "from the acknowledged record 3 to the head 6"},
		{"all acknowledged", StoreFacts{Verified: offline.VerifyResult{Head: offline.Head{Seq: 6}}, Acked: 6}, Pass, "every record up to 6"},
		{"chain broken", StoreFacts{Err: fmt.Errorf("verify: %w", &offline.ChainError{Seq: 5, Reason: "link does not match"})}, Fail, "broken at record 5"},
		{"corrupt", StoreFacts{Err: fmt.Errorf("open: %w", offline.ErrCorrupt)}, Fail, "corrupt"},
		{"too new", StoreFacts{Err: offline.ErrSchemaTooNew}, Fail, "newer"},
		{"missing", StoreFacts{Err: errors.New("offline: open x: no such file or directory")}, Fail, "no such file"},
		{"daemon broken", StoreFacts{ByDaemon: true, BrokenAt: 9}, Fail, "broken at record 9"},
		{"daemon verified", StoreFacts{ByDaemon: true, Verified: ok, Acked: 3}, Pass, "running daemon verified"},
	} {
		t.Run(tc.name, func(t *testing.T) { want(t, Store(tc.f), "store", tc.res, tc.frag) })
	}
}

func TestLedgerAndEnrolment(t *testing.T) {
	base := LedgerFacts{URL: "http://ledger/", Now: t0, LastContact: t0.Add(-time.Hour), MaxOffline: week, Device: "POS-1", Key: "sha256:ab"}
	with := func(mod func(*LedgerFacts)) LedgerFacts {
		f := base
		mod(&f)
		return f
	}
	unreachable := errors.New("connection refused")
	for _, tc := range []struct {
		name              string
		f                 LedgerFacts
		ledger, enrolment Result
		frag              string
	}{
		{"no ledger", with(func(f *LedgerFacts) { f.Answer = NoLedger }), Skip, Skip, ""},
		{"not enrolled", with(func(f *LedgerFacts) { f.Answer, f.Err = NotAsked, errors.New("no ledger.pub") }), Skip, Fail, ""},
		{"answered", with(func(f *LedgerFacts) { f.Answer = Answered }), Pass, Pass, "answered"},
		{"answered, revocation still recorded", with(func(f *LedgerFacts) { f.Answer, f.StoreRevoked = Answered, true }), Pass, Warn, "answered"},
		{"revoked", with(func(f *LedgerFacts) { f.Answer = Revoked }), Pass, Fail, "answered"},
		{"unknown device", with(func(f *LedgerFacts) { f.Answer, f.Err = UnknownDevice, errors.New("unknown-device") }), Pass, Fail, ""},
		{"bad answer", with(func(f *LedgerFacts) { f.Answer, f.Err = BadAnswer, errors.New("bad signature") }), Fail, Fail, "not usably"},
		{"unreachable within the limit", with(func(f *LedgerFacts) { f.Answer, f.Err = Unreachable, unreachable }), Warn, Warn, "within sync.max_offline"},
		{"unreachable, revoked recorded", with(func(f *LedgerFacts) { f.Answer, f.Err, f.StoreRevoked = Unreachable, unreachable, true }), Warn, Fail, ""},
		{"unreachable beyond the limit", with(func(f *LedgerFacts) {
			f.Answer, f.Err, f.LastContact = Unreachable, unreachable, t0.Add(-8*24*time.Hour)
		}), Fail, Warn, "offline_too_long"},
		{"never reached", with(func(f *LedgerFacts) { f.Answer, f.Err, f.LastContact = Unreachable, unreachable, time.Time{} }), Fail, Warn, "no exchange"},
		{"unreachable, no limit", with(func(f *LedgerFacts) {
			f.Answer, f.Err, f.MaxOffline, f.LastContact = Unreachable, unreachable, 0, t0.Add(-30*24*time.Hour)
		}), Warn, Warn, "no offline limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, e := Ledger(tc.f), Enrolment(tc.f)
			want(t, l, "ledger", tc.ledger, tc.frag)
			want(t, e, "enrolment", tc.enrolment)
		})
	}
}

func TestStatusListAndRules(t *testing.T) {
	base := ListFacts{Kind: config.KindPOS, Version: 3, Cards: 12, Now: t0, LastContact: t0.Add(-time.Hour), MaxOffline: week, Answered: true}
	with := func(mod func(*ListFacts)) ListFacts {
		f := base
		mod(&f)
		return f
	}
	old := t0.Add(-8 * 24 * time.Hour)
	for _, tc := range []struct {
		name          string
		f             ListFacts
		status, rules Result
		frag          string
	}{
		{"fresh", base, Pass, Pass, "confirmed by the ledger 1h 0m ago"},
		{"none on a POS", with(func(f *ListFacts) { f.Version = 0 }), Fail, Warn, "no_"},
		{"none on a kiosk", with(func(f *ListFacts) { f.Version, f.Kind = 0, config.KindKiosk }), Warn, Warn, "no_"},
		{"none on a gate", with(func(f *ListFacts) { f.Version, f.Kind = 0, config.KindGate }), Fail, Fail, "no_"},
		{"past the limit, ledger unreachable", with(func(f *ListFacts) { f.LastContact, f.Answered = old, false }), Fail, Warn, "8d 0h ago"},
		{"past the limit on a gate", with(func(f *ListFacts) { f.LastContact, f.Answered, f.Kind = old, false, config.KindGate }), Warn, Warn, "a gate keeps passing"},
		{"past the limit, ledger answers now", with(func(f *ListFacts) { f.LastContact = old }), Warn, Warn, "the ledger answers now"},
		{"past half the limit", with(func(f *ListFacts) { f.LastContact, f.Answered = t0.Add(-5*24*time.Hour), false }), Warn, Warn, "offline hold starts"},
		{"newer at the ledger", with(func(f *ListFacts) { f.Newer = 4 }), Warn, Warn, "the ledger has version 4"},
		{"no contact recorded", with(func(f *ListFacts) { f.LastContact = time.Time{} }), Warn, Warn, "no exchange"},
		{"contact in the future", with(func(f *ListFacts) { f.LastContact = t0.Add(time.Hour) }), Warn, Warn, "ahead of this clock"},
		{"no limit", with(func(f *ListFacts) { f.MaxOffline, f.LastContact = 0, old }), Pass, Pass, "no offline limit"},
		{"unreadable", with(func(f *ListFacts) { f.Err = offline.ErrCorrupt }), Fail, Fail, "not read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, StatusList(tc.f), "status_list", tc.status, tc.frag)
			want(t, Rules(tc.f), "rules", tc.rules)
		})
	}
}

func TestReport(t *testing.T) {
	r := Report{Device: "POS-1", Kind: "pos", Version: "dev", Mode: Alone}
	r.Add(Passed("config", "fits", "配置正常"), Warned("psam", "test keys", "use a PSAM", "测试密钥"), Skipped("relays", "not asked", "未测试"))
	r.Finish(42 * time.Millisecond)
	if !r.OK || r.ElapsedMS != 42 {
		t.Fatalf("a warning is OK: %+v", r)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"PASS  config", "WARN  psam", "do: use a PSAM", "中文: 测试密钥", "SKIP  relays", "1 pass, 1 warn, 0 fail, 1 skip in 42 ms: OK, with warnings"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}
	r.Add(Failed("store", "broken\nat 5", "restore", "断裂"))
	r.Finish(time.Second)
	if r.OK || r.Failed() != 1 {
		t.Fatalf("a failure is not OK: %+v", r)
	}
	text.Reset()
	_ = r.WriteText(&text)
	if !strings.Contains(text.String(), "FAIL  store     broken at 5") || !strings.Contains(text.String(), "NOT OK") {
		t.Errorf("text:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(js.Bytes(), []byte("\n")) != 1 {
		t.Errorf("JSON is not one line: %s", js.String())
	}
	var back struct {
		Device, Kind string
		OK           bool
		Checks       []map[string]string
		ElapsedMS    int64 `json:"elapsed_ms"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Device != "POS-1" || back.OK || len(back.Checks) != 4 || back.Checks[3]["result"] != "fail" || back.Checks[3]["zh"] != "断裂" || back.ElapsedMS != 1000 {
		t.Fatalf("JSON: %s", js.String())
	}
	if c, ok := r.Check("psam"); !ok || c.Result != Warn {
		t.Fatalf("Check(psam) = %+v %v", c, ok)
	}
}

func TestAge(t *testing.T) {
	for d, w := range map[time.Duration]string{
		250 * time.Millisecond: "250ms", 45 * time.Second: "45s", 12 * time.Minute: "12m",
		5*time.Hour + 3*time.Minute: "5h 3m", 8*24*time.Hour + 2*time.Hour: "8d 2h", -time.Minute: "-1m",
	} {
		if got := Age(d); got != w {
			t.Errorf("Age(%v) = %q, want %q", d, got, w)
		}
	}
}
