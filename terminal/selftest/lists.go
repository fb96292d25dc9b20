package selftest

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/terminal/config"
)

// ListFacts is what the status-list and rules checks decide on: the
// version held and how old the device's last confirmation from the ledger
// is. Both come with every sync round, so both age from the last contact
// the store recorded (the clock of the daemon's offline limit).
type ListFacts struct {
	// Kind is the device kind (config.KindPOS, KindGate, KindKiosk).
	Kind string
	// Version held (0: none); Cards the status list's entries; Issued
	// when the ledger made the rules held.
	Version uint64
	Cards   uint64
	Issued  time.Time
	// Err: the store could not be read.
	Err error
	// Now, LastContact and MaxOffline as in LedgerFacts.
	Now         time.Time
	LastContact time.Time
	MaxOffline  time.Duration
	// Answered: the ledger answered the selftest's request for this list
	// now; Newer is the newer version it offered (0: the one held is
	// current).
	Answered bool
	Newer    uint64
}

// StatusList checks that a status list is held and that the ledger
// confirmed it within the offline limit. A POS without one, or past the
// limit with the ledger unreachable, takes no money: fail. A gate keeps
// passing on its last list past the limit and a kiosk asks the ledger
// online: warn.
func StatusList(f ListFacts) Check {
	c := Check{Name: "status_list"}
	if f.Err != nil {
		return failed(c, fmt.Sprintf("status list not read: %v", f.Err), "see the store check", "无法读取黑名单（状态名单）：见 store 检查")
	}
	if f.Version == 0 {
		what := "no status list held: a lost card cannot be told from a good one (no_status_list)"
		fix := "let the device reach the ledger once (see ledger): `yktd provision` or the daemon's first sync round fetches it"
		zh := "尚未获取黑名单（状态名单），无法识别挂失卡：请让设备连上中心获取（yktd provision 或守护进程首次同步）"
		if f.Kind == config.KindKiosk || f.Kind == config.KindDesk {
			return warned(c, what+"; a kiosk asks the ledger online, so it still works", fix, zh)
		}
		return failed(c, what+"; the terminal takes no money and passes no one", fix, zh)
	}
	what := fmt.Sprintf("version %d, %d cards listed", f.Version, f.Cards)
	if m, bad := aged(&c, f, what, "status list"); bad {
		return m
	}
	if f.Newer != 0 {
		return warned(c, fmt.Sprintf("%s; the ledger has version %d", what, f.Newer),
			"the daemon fetches it at its next sync round (sync.interval); if it does not, see the daemon's log",
			fmt.Sprintf("中心已有更新的黑名单（版本%d），守护进程下一轮同步会获取", f.Newer))
	}
	c.Result, c.ZH = Pass, "黑名单（状态名单）已获取且未过期"
	return c
}

// Rules checks the signed rules held: a gate without rules refuses every
// credential (no_rules) and fails; a POS or kiosk without them works on
// its configured defaults and warns. Rules past the offline limit warn
// (the status list check decides on the hold).
func Rules(f ListFacts) Check {
	c := Check{Name: "rules"}
	if f.Err != nil {
		return failed(c, fmt.Sprintf("rules not read: %v", f.Err), "see the store check", "无法读取规则：见 store 检查")
	}
	if f.Version == 0 {
		fix := "set the rules at the ledger (ledgerd rules set) and let the device reach it (see ledger)"
		if f.Kind == config.KindGate {
			return failed(c, "no signed rules held: the gate refuses every credential (no_rules)", fix,
				"尚未获取通行规则，闸机会拒绝所有通行：请在中心设置规则并让设备连上中心获取")
		}
		return warned(c, "no signed rules held: the configured defaults apply (prices, limits)", fix,
			"尚未获取中心规则，暂按本机配置的默认值（价格、限额）工作")
	}
	what := fmt.Sprintf("version %d", f.Version)
	if !f.Issued.IsZero() {
		what += ", issued " + f.Issued.UTC().Format(time.RFC3339)
	}
	f.Kind = config.KindGate // past the limit rules only warn: the status list decides the hold
	if m, bad := aged(&c, f, what, "rules"); bad {
		return m
	}
	if f.Newer != 0 {
		return warned(c, fmt.Sprintf("%s; the ledger has version %d", what, f.Newer),
			"the daemon fetches them at its next sync round (sync.interval); if it does not, see the daemon's log",
			fmt.Sprintf("中心已有更新的规则（版本%d），守护进程下一轮同步会获取", f.Newer))
	}
	c.Result, c.ZH = Pass, "规则已获取且未过期"
	return c
}

// aged sets c's detail from what and the age of the last contact and, when
// that age is a problem, returns the check to report and true.
func aged(c *Check, f ListFacts, what, name string) (Check, bool) {
	c.Detail = what
	if f.LastContact.IsZero() {
		return warned(*c, what+"; no exchange with the ledger recorded: the daemon's offline limit counts from its next start",
			"let the device reach the ledger (see ledger)", "本机未记录与中心的通信时间：守护进程下次启动时开始计算离线时限"), true
	}
	age := f.Now.Sub(f.LastContact)
	if age < -clockBehindSlack {
		return warned(*c, fmt.Sprintf("%s; the last contact with the ledger (%s) is %s ahead of this clock", what, f.LastContact.UTC().Format(time.RFC3339), Age(-age)),
			"see the clock check", "最近一次与中心通信的时间晚于本机时钟：时钟可能被回拨，见 clock 检查"), true
	}
	age = max(age, 0)
	c.Detail = fmt.Sprintf("%s, confirmed by the ledger %s ago", what, Age(age))
	if f.MaxOffline <= 0 {
		c.Detail += " (no offline limit)"
		return *c, false
	}
	c.Detail += fmt.Sprintf(" (limit sync.max_offline %s)", Age(f.MaxOffline))
	switch {
	case age > f.MaxOffline && f.Answered:
		return warned(*c, c.Detail+"; the ledger answers now",
			"start the daemon (or wait for its next sync round): it renews the "+name+" and lifts the offline hold",
			fmt.Sprintf("%s已超过离线时限，但中心现在可达：启动守护进程或等待下一轮同步即可更新", zhName(name))), true
	case age > f.MaxOffline && f.Kind == config.KindPOS:
		return failed(*c, c.Detail+": past the limit, the terminal takes no money (offline_too_long)",
			"get the device back to the ledger (see ledger); sales resume at the first sync round",
			fmt.Sprintf("%s已超过离线时限%s，本机已停止收款：请恢复与中心的网络，同步后自动恢复", zhName(name), Age(f.MaxOffline))), true
	case age > f.MaxOffline:
		return warned(*c, c.Detail+": past the limit (a gate keeps passing on its last list; a POS would stop)",
			"get the device back to the ledger (see ledger)",
			fmt.Sprintf("%s已超过离线时限%s：闸机仍按旧名单工作，请尽快恢复与中心的网络", zhName(name), Age(f.MaxOffline))), true
	case age > f.MaxOffline/2 && !f.Answered:
		return warned(*c, fmt.Sprintf("%s; the offline hold starts at %s", c.Detail, f.LastContact.Add(f.MaxOffline).UTC().Format(time.RFC3339)),
			"get the device back to the ledger before then (see ledger)",
			fmt.Sprintf("%s已超过离线时限的一半，%s 后将停止收款：请尽快恢复与中心的网络", zhName(name), f.LastContact.Add(f.MaxOffline).UTC().Format(time.RFC3339))), true
	}
	return *c, false
}

func zhName(name string) string {
	if name == "rules" {
		return "规则"
	}
	return "黑名单"
}
