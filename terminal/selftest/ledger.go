package selftest

import (
	"fmt"
	"time"
)

// Answer is what became of the selftest's signed request to the ledger.
type Answer int

// Answers.
const (
	// NoLedger: no sync.ledger is configured; nothing was asked.
	NoLedger Answer = iota
	// NotAsked: the device has no key or no pinned ledger key, so there
	// was nothing to sign or verify with (LedgerFacts.Err says which).
	NotAsked
	// Answered: the ledger answered the signed request with an answer
	// that verified with the pinned ledger key (or "current").
	Answered
	// Unreachable: no usable answer (network, timeout, HTTP 5xx,
	// rate-limited).
	Unreachable
	// Revoked: the ledger refused the device as revoked.
	Revoked
	// UnknownDevice: the ledger does not know the device, or not with
	// this key (its signature did not verify there).
	UnknownDevice
	// BadAnswer: an answer came that does not verify with the pinned
	// ledger key, or refused the request for another reason.
	BadAnswer
)

// LedgerFacts is what the ledger and enrolment checks decide on.
type LedgerFacts struct {
	URL    string
	Answer Answer
	// Err is the probe's error (or why nothing was asked).
	Err error
	// RTT is how long the request took.
	RTT time.Duration
	// Now is this machine's clock; LastContact the last successful
	// exchange with the ledger the store recorded (zero: none);
	// MaxOffline the offline limit (sync.max_offline).
	Now         time.Time
	LastContact time.Time
	MaxOffline  time.Duration
	// Device and Key name the device and its key's fingerprint.
	Device, Key string
	// StoreRevoked: the store (or the running daemon) has recorded that
	// the ledger revoked the device, at RevokedAt.
	StoreRevoked bool
	RevokedAt    time.Time
}

// Ledger checks that the ledger answers. Unreachable within the offline
// limit (counted from the last contact) warns: the terminal keeps working
// offline; beyond it, or never reached, it fails.
func Ledger(f LedgerFacts) Check {
	c := Check{Name: "ledger"}
	switch f.Answer {
	case NoLedger:
		return Skipped("ledger", "no sync.ledger configured: the journal waits for a USB export (yktd journal export)", "未配置中心地址：交易记录需用U盘导出")
	case NotAsked:
		return Skipped("ledger", fmt.Sprintf("not asked: %v (see enrolment)", f.Err), "未向中心发请求：设备未注册（见 enrolment）")
	case Answered, Revoked, UnknownDevice:
		c.Result = Pass
		c.Detail = fmt.Sprintf("%s answered a signed request in %s", f.URL, f.RTT.Round(time.Millisecond))
		c.ZH = "中心可达，已应答签名请求"
		return c
	case BadAnswer:
		return failed(c, fmt.Sprintf("%s answered, but not usably: %v", f.URL, f.Err),
			"check sync.ledger and sync.ledger_key: the answer is not signed by the pinned ledger key (another ledger, or a proxy in between)",
			"中心有应答但无法验证（签名不是已固定的中心密钥）：请检查 sync.ledger 和 sync.ledger_key，是否连到了别的服务器或中间有代理")
	}
	fix := fmt.Sprintf("check the network to %s (cable, Wi-Fi, firewall, proxy; curl -v %s) and that the ledger runs", f.URL, f.URL)
	zhFix := "请检查到中心的网络（网线、无线、防火墙、代理）以及中心服务是否运行"
	if f.LastContact.IsZero() {
		return failed(c, fmt.Sprintf("%s unreachable (%v), and no exchange with it is recorded", f.URL, f.Err), fix,
			"中心不可达，且本机从未与中心成功通信："+zhFix)
	}
	age := f.Now.Sub(f.LastContact)
	if f.MaxOffline > 0 && age > f.MaxOffline {
		return failed(c, fmt.Sprintf("%s unreachable (%v); last contact %s ago, beyond sync.max_offline %s: the terminal takes no money (offline_too_long)",
			f.URL, f.Err, Age(age), Age(f.MaxOffline)), fix,
			fmt.Sprintf("中心不可达，距上次通信已%s，超过离线上限%s，本机已停止收款：%s", Age(age), Age(f.MaxOffline), zhFix))
	}
	limit := "no offline limit"
	if f.MaxOffline > 0 {
		limit = fmt.Sprintf("within sync.max_offline %s: it keeps working offline until %s", Age(f.MaxOffline), f.LastContact.Add(f.MaxOffline).UTC().Format(time.RFC3339))
	}
	return warned(c, fmt.Sprintf("%s unreachable (%v); last contact %s ago, %s", f.URL, f.Err, Age(age), limit), fix,
		fmt.Sprintf("中心暂时不可达，距上次通信%s，仍在离线上限内，可离线工作：%s", Age(age), zhFix))
}

// Enrolment checks that the ledger knows the device with its key and has
// not revoked it.
func Enrolment(f LedgerFacts) Check {
	c := Check{Name: "enrolment"}
	provision := "provision the device: `yktd provision --ledger URL --ledger-key FP --token TOKEN --site S --kind K --config FILE` with a token from `ledgerd token new` (docs/provision.md)"
	switch f.Answer {
	case NoLedger:
		return Skipped("enrolment", "no sync.ledger configured: not enrolled with a ledger", "未配置中心：无需注册")
	case NotAsked:
		return failed(c, fmt.Sprintf("not enrolled: %v", f.Err), provision,
			"设备未注册（缺少设备密钥或中心公钥）：请用 yktd provision 和中心签发的一次性令牌完成注册")
	case Revoked:
		return failed(c, fmt.Sprintf("the ledger answered that device %s is revoked: it takes no more money (device_revoked)", f.Device),
			"ask campus operations why the device was revoked; a revoked device stays revoked: a replacement is enrolled under a new device id. Collect the journal first (yktd journal export)",
			"中心已吊销本设备，不再收款：请联系运维确认原因；吊销不可撤销，需用新设备号重新注册；请先用 yktd journal export 导出记录")
	case UnknownDevice:
		return failed(c, fmt.Sprintf("the ledger does not know device %s with key %s (%v)", f.Device, f.Key, f.Err),
			"check device.id; if the key was replaced, ask for `ledgerd device rekey ID` and run yktd provision --force with that token; else "+provision,
			"中心不认识本设备或其密钥：请核对 device.id；若更换过密钥，请中心执行 ledgerd device rekey 后用 yktd provision --force 重新注册")
	case BadAnswer:
		return failed(c, fmt.Sprintf("not confirmed: the ledger's answer does not verify (%v)", f.Err),
			"check sync.ledger_key against `ledgerd keys --fingerprint` at the ledger",
			"无法确认注册状态：中心应答的签名无法验证，请核对 sync.ledger_key")
	case Answered:
		if f.StoreRevoked {
			return warned(c, fmt.Sprintf("enrolled as %s (key %s); the ledger serves it, but the store still records a revocation from %s",
				f.Device, f.Key, f.RevokedAt.UTC().Format(time.RFC3339)),
				"start (or wait for) the daemon: its next sync round lifts the revocation it recorded",
				"中心已恢复服务本设备，但本机仍记录着吊销状态：启动守护进程后下一轮同步会自动解除")
		}
		c.Result = Pass
		c.Detail = fmt.Sprintf("enrolled as %s (key %s), not revoked", f.Device, f.Key)
		c.ZH = "设备已注册，未被吊销"
		return c
	}
	// Unreachable: only what the store recorded.
	if f.StoreRevoked {
		return failed(c, fmt.Sprintf("the ledger revoked device %s at %s (recorded; the ledger cannot be asked now)", f.Device, f.RevokedAt.UTC().Format(time.RFC3339)),
			"ask campus operations why the device was revoked; collect the journal (yktd journal export)",
			"本机记录显示已被中心吊销（当前无法联系中心确认）：请联系运维，并导出交易记录")
	}
	return warned(c, fmt.Sprintf("not confirmed: the ledger cannot be asked now; the store records no revocation (device %s, key %s)", f.Device, f.Key),
		"see the ledger check; run the selftest again once the ledger answers",
		"中心暂不可达，无法确认注册状态（本机未记录吊销）：请先处理网络问题后再自检")
}
