package selftest

import (
	"errors"
	"fmt"

	"github.com/openykt/yktd/offline"
)

// StoreFacts is what the store check decides on: the verification of the
// journal from the record the ledger acknowledged to the head
// (offline.Store.VerifyTail), or why the store could not be read.
type StoreFacts struct {
	Path string
	// Err is the error of opening the store or of the verification.
	Err error
	// Verified is VerifyTail's result when Err is nil; Acked the
	// acknowledged sequence it started from.
	Verified offline.VerifyResult
	Acked    uint64
	// ByDaemon: the facts are the running daemon's (it verifies at
	// start); BrokenAt its first broken record (0: none).
	ByDaemon bool
	BrokenAt uint64
}

// Store checks the journal's hash chain from the last acknowledged record.
func Store(f StoreFacts) Check {
	c := Check{Name: "store"}
	var ce *offline.ChainError
	switch {
	case f.ByDaemon && f.BrokenAt != 0:
		return failed(c, fmt.Sprintf("the running daemon found the journal chain broken at record %d (it takes no money: chain_broken)", f.BrokenAt),
			fmt.Sprintf("keep the store (it is evidence); stop the daemon, copy %s and run `yktd journal verify --db COPY`; call the operator", f.Path),
			fmt.Sprintf("交易记录哈希链在第%d条断裂，本机已停止收款：请保留数据文件（证据），停机后复制并运行 yktd journal verify 检查，联系运维", f.BrokenAt))
	case f.ByDaemon:
		c.Result = Pass
		c.Detail = fmt.Sprintf("the running daemon verified the journal from the acknowledged record at its start (head %d, acknowledged %d)", f.Verified.Head.Seq, f.Acked)
		c.ZH = "交易记录哈希链完整（由运行中的守护进程在启动时校验）"
		return c
	case errors.As(f.Err, &ce):
		return failed(c, fmt.Sprintf("journal chain broken at record %d: %s", ce.Seq, ce.Reason),
			fmt.Sprintf("do not start the terminal for sales; keep %s (it is evidence), copy it and run `yktd journal verify --db COPY`; call the operator", f.Path),
			fmt.Sprintf("交易记录哈希链在第%d条断裂：请勿收款，保留数据文件（证据），复制后运行 yktd journal verify 检查，联系运维", ce.Seq))
	case errors.Is(f.Err, offline.ErrCorrupt), errors.Is(f.Err, offline.ErrNotStore):
		return failed(c, f.Err.Error(),
			fmt.Sprintf("keep %s (it may hold records the ledger has not received) and restore the store from a backup", f.Path),
			"数据文件损坏或不是本机的数据文件：请保留原文件（可能含未上传的记录），从备份恢复")
	case errors.Is(f.Err, offline.ErrSchemaTooNew):
		return failed(c, f.Err.Error(), "the store was written by a newer yktd: install that version again",
			"数据文件由更新版本的程序写入：请重新安装该版本")
	case errors.Is(f.Err, offline.ErrDeviceMismatch):
		return failed(c, f.Err.Error(), "the store belongs to another device: check device.id and device.store in the configuration",
			"数据文件属于另一台设备：请检查配置中的 device.id 和 device.store")
	case f.Err != nil:
		return failed(c, f.Err.Error(), "check device.store and device.data_dir in the configuration, and that the store exists (`yktd provision` makes it)",
			"无法打开数据文件：请检查配置中的 device.store / device.data_dir，未初始化的设备请先运行 yktd provision")
	}
	v := f.Verified
	c.Result = Pass
	if v.Count == 0 {
		c.Detail = fmt.Sprintf("journal verified: every record up to %d is acknowledged by the ledger", v.Head.Seq)
	} else {
		c.Detail = fmt.Sprintf("journal chain verified from the acknowledged record %d to the head %d (%d records)", f.Acked, v.Head.Seq, v.Count)
	}
	c.ZH = "交易记录哈希链完整"
	return c
}

// CapacityFacts is the store's fill state (offline.Store.Capacity, or the
// running daemon's).
type CapacityFacts struct {
	Capacity offline.Capacity
	// Err: the capacity could not be read.
	Err error
}

// Capacity checks the store's capacity level: nearly full warns, full
// (new purchases refused) fails.
func Capacity(f CapacityFacts) Check {
	c := Check{Name: "capacity"}
	if f.Err != nil {
		return warned(c, fmt.Sprintf("capacity not read: %v", f.Err), "see the store check", "无法读取存储容量")
	}
	k := f.Capacity
	what := fmt.Sprintf("%d records not yet acknowledged by the ledger (purchases stop at %d)", k.Unacked, k.MaxUnacked-min(k.Reserve, k.MaxUnacked))
	if k.MaxBytes > 0 {
		what += fmt.Sprintf(", %d of %d bytes used", k.UsedBytes, k.MaxBytes)
	}
	switch k.Level {
	case offline.LevelFull:
		return failed(c, "storage full: new purchases are refused; "+what,
			"get the journal to the ledger: fix the network (see ledger), or collect it with `yktd journal export` to a USB stick",
			"存储已满，已停止新的交易：请恢复网络让记录上传，或用 yktd journal export 导出到U盘")
	case offline.LevelNearlyFull:
		return warned(c, "storage nearly full: "+what,
			"get the journal to the ledger soon (see ledger), or collect it with `yktd journal export`",
			"存储将满：请尽快让记录上传到中心，或用 yktd journal export 导出")
	}
	c.Result, c.Detail, c.ZH = Pass, what, "存储容量充足"
	return c
}

// Disk thresholds on the free space of the store's file system: bbolt
// grows its file in steps of up to 16 MiB.
const (
	DiskFailBytes = 32 << 20
	DiskWarnBytes = 128 << 20
	// DiskWarnPercent: below this share free, warn too.
	DiskWarnPercent = 5
)

// DiskFacts is the free space of the file system holding the store.
type DiskFacts struct {
	Path        string
	Free, Total uint64
	Err         error
}

// Disk checks the free space where the store grows.
func Disk(f DiskFacts) Check {
	c := Check{Name: "disk"}
	if f.Err != nil {
		return warned(c, fmt.Sprintf("free space of %s not read: %v", f.Path, f.Err), "check the data directory with df -h", "无法读取磁盘剩余空间：请用 df -h 检查")
	}
	pct := 100.0
	if f.Total > 0 {
		pct = float64(f.Free) * 100 / float64(f.Total)
	}
	what := fmt.Sprintf("%s free of %s (%.0f%%) on the file system of %s", mib(f.Free), mib(f.Total), pct, f.Path)
	switch {
	case f.Free < DiskFailBytes:
		return failed(c, what+": the store cannot grow",
			"free space on this file system (old logs: journalctl --vacuum-size=50M; files that do not belong there); never delete the store",
			"磁盘空间不足，数据文件无法增长：请清理空间（如 journalctl --vacuum-size=50M），切勿删除数据文件")
	case f.Free < DiskWarnBytes || pct < DiskWarnPercent:
		return warned(c, what,
			"free space on this file system soon (old logs: journalctl --vacuum-size=50M); never delete the store",
			"磁盘剩余空间偏少：请尽快清理（如 journalctl --vacuum-size=50M），切勿删除数据文件")
	}
	c.Result, c.Detail, c.ZH = Pass, what, "磁盘空间充足"
	return c
}

func mib(b uint64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", b>>20)
}
