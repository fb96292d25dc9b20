package selftest

import (
	"fmt"
	"time"
)

// Clock thresholds: a skew against the ledger up to ClockSkewWarn passes
// (the campus QR tokens' default tolerance, gate.qr_skew), up to
// ClockSkewFail warns, beyond it fails (card validity dates, meal periods,
// QR tokens and the journal's times would be wrong).
const (
	ClockSkewWarn = 30 * time.Second
	ClockSkewFail = 5 * time.Minute
	// clockBehindSlack is how far the clock may read behind the journal's
	// latest time before it counts as gone back (the store's own clock-step
	// tolerance).
	clockBehindSlack = 2 * time.Second
)

// ClockFacts is what the clock check decides on.
type ClockFacts struct {
	// Now is this machine's clock.
	Now time.Time
	// Built is the date this binary was built (or its source's date):
	// no correct clock reads earlier.
	Built time.Time
	// Latest is the latest time the store saw (offline.Store.LatestTime;
	// zero when unknown, as beside a running daemon).
	Latest time.Time
	// Ledger is the ledger's time as its last answer gave it (zero: no
	// answer); LedgerSource says where it came from ("HTTP Date header").
	Ledger       time.Time
	LedgerSource string
	// Resolution is how precise Ledger is (1 s for the Date header, plus
	// the round trip).
	Resolution time.Duration
}

// Clock checks that the clock is plausible: not before the build, not
// behind the journal, and near the ledger's time when the ledger answered.
func Clock(f ClockFacts) Check {
	c := Check{Name: "clock"}
	now := f.Now.UTC().Format(time.RFC3339)
	switch {
	case !f.Built.IsZero() && f.Now.Before(f.Built):
		return failed(c, fmt.Sprintf("the clock reads %s, before this yktd was built (%s): it is unset or wrong", now, f.Built.UTC().Format("2006-01-02")),
			"set the clock (check the RTC battery and NTP: timedatectl status), then run the selftest again; the terminal must not take money with a wrong clock",
			"系统时间早于本程序的构建日期，时钟未设置或错误：请检查RTC电池和NTP（timedatectl status），校准后再自检；时钟错误时不得收款")
	case !f.Latest.IsZero() && f.Now.Add(clockBehindSlack).Before(f.Latest):
		return failed(c, fmt.Sprintf("the clock reads %s, behind the journal's latest time %s: it went back", now, f.Latest.UTC().Format(time.RFC3339)),
			"set the clock right (timedatectl status; NTP), then run the selftest again; records made with the clock behind would carry wrong times",
			"系统时间比交易记录中最新的时间还早，时钟被回拨：请校准时钟（timedatectl status；NTP）后再自检")
	}
	if f.Ledger.IsZero() {
		c.Result = Pass
		c.Detail = fmt.Sprintf("%s: after the build and the journal's latest time; not compared with the ledger (no answer)", now)
		c.ZH = "时钟合理（晚于构建日期和最新交易记录）；未能与中心对时"
		return c
	}
	skew := f.Ledger.Sub(f.Now)
	abs := skew.Abs()
	src := f.LedgerSource
	if src == "" {
		src = "its answer"
	}
	res := f.Resolution.Round(time.Millisecond)
	what := fmt.Sprintf("%s; the ledger's time (%s, ±%s) is %s %s", now, src, res, Age(abs), aheadBehind(skew))
	switch {
	case abs > ClockSkewFail+f.Resolution:
		return failed(c, what,
			fmt.Sprintf("set the clock to the ledger's (NTP; timedatectl set-ntp true): a skew beyond %s makes card dates, meal periods and QR codes wrong", Age(ClockSkewFail)),
			fmt.Sprintf("本机时钟与中心相差%s，超过%s：请用NTP校时（timedatectl set-ntp true），否则卡有效期、餐次和二维码判断都会出错", Age(abs), Age(ClockSkewFail)))
	case abs > ClockSkewWarn+f.Resolution:
		return warned(c, what,
			fmt.Sprintf("turn NTP on (timedatectl set-ntp true): beyond %s campus QR codes are refused", Age(ClockSkewWarn)),
			fmt.Sprintf("本机时钟与中心相差%s：请开启NTP校时，相差超过%s时校园码会被拒绝", Age(abs), Age(ClockSkewWarn)))
	}
	c.Result = Pass
	c.Detail = what
	c.ZH = "时钟正常，与中心时间一致"
	return c
}

func aheadBehind(skew time.Duration) string {
	if skew >= 0 {
		return "ahead of this clock"
	}
	return "behind this clock"
}

// Age renders a duration for a technician: "45s", "12m", "5h 3m", "8d 2h".
func Age(d time.Duration) string {
	neg := d < 0
	d = d.Abs()
	var s string
	switch {
	case d < time.Second:
		s = d.Round(time.Millisecond).String()
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		s = fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
	if neg {
		return "-" + s
	}
	return s
}

func failed(c Check, detail, fix, zh string) Check {
	c.Result, c.Detail, c.Fix, c.ZH = Fail, detail, fix, zh
	return c
}

func warned(c Check, detail, fix, zh string) Check {
	c.Result, c.Detail, c.Fix, c.ZH = Warn, detail, fix, zh
	return c
}

// Passed returns a passing check.
func Passed(name, detail, zh string) Check {
	return Check{Name: name, Result: Pass, Detail: detail, ZH: zh}
}

// Warned returns a warning with what to do.
func Warned(name, detail, fix, zh string) Check {
	return warned(Check{Name: name}, detail, fix, zh)
}

// Failed returns a failed check with what to do.
func Failed(name, detail, fix, zh string) Check {
	return failed(Check{Name: name}, detail, fix, zh)
}

// Skipped returns a check that did not run, and why.
func Skipped(name, why, zh string) Check {
	return Check{Name: name, Result: Skip, Detail: why, ZH: zh}
}
