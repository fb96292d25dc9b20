package hold_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/policy"
)

// TestPSAMHold: the PSAM binding's hold stops money and a kiosk's loads,
// not gate passes; it carries its time, detail, record and message, and
// lifts.
func TestPSAMHold(t *testing.T) {
	now := time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC)
	h := hold.NewHolds(func() time.Time { return now }, 0)
	h.SetStatusList(true)
	if _, on := h.Money(now); on {
		t.Fatal("a hold before any")
	}
	since := now.Add(-time.Hour)
	h.SetPSAM(true, since, "the PSAM in the device is not the bound one", 7)
	m, on := h.Money(now)
	if !on || m.Code != policy.CodePSAMBinding || m.Gate || !m.Since.Equal(since) || m.Seq != 7 || m.Detail == "" ||
		m.Message.ZH != "终端与PSAM绑定不符 暂停收款 请联系管理员" || m.Message.EN != "PSAM not bound to this device: no sales, call the operator" {
		t.Fatalf("money hold %+v %v", m, on)
	}
	if k, on := h.Kiosk(now); !on || k.Code != policy.CodePSAMBinding {
		t.Errorf("kiosk hold %+v %v", k, on)
	}
	if g, on := h.Gate(now); on {
		t.Errorf("a gate stopped by the PSAM binding: %+v", g)
	}
	h.SetPSAM(true, time.Time{}, "", 0) // still on, no time known: keeps the first
	if m, _ := h.Money(now); !m.Since.Equal(since) {
		t.Errorf("since moved to %v", m.Since)
	}
	h.SetPSAM(false, time.Time{}, "", 0)
	if m, on := h.Money(now); on {
		t.Fatalf("still held: %+v", m)
	}
	h.SetPSAM(true, time.Time{}, "", 0)
	if m, _ := h.Money(now); !m.Since.Equal(now) {
		t.Errorf("a hold with no time known starts now, got %v", m.Since)
	}
}
