package ui_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"unicode"

	"github.com/openykt/yktd/terminal/ui"
)

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func TestCatalogue(t *testing.T) {
	msgs := []ui.Message{
		ui.Idle(), ui.Pay(1250), ui.Approved(1250, 8750), ui.Pass(), ui.EnterPIN(0), ui.EnterPIN(6000),
		ui.WrongPIN(2), ui.PINLocked(), ui.CardRemoved(), ui.TapAgain(), ui.EntryCancelled(),
		ui.StorageNearlyFull(), ui.Text(ui.CodeFault), ui.OfflineTooLong(7), ui.ChainBroken(17),
		ui.EarlierSale(1250, 8750),
	}
	for _, c := range []ui.Code{
		ui.CodeInsufficient, ui.CodeMinBalance, ui.CodeLost, ui.CodeFrozen, ui.CodeDormant,
		ui.CodeCardCancelled, ui.CodeExpired, ui.CodeNotAccepted, ui.CodeNoAccess,
		ui.CodeAntiPassback, ui.CodeDailyLimit, ui.CodeNoStatusList, ui.CodeOfflineTooLong,
		ui.CodeDeviceRevoked, ui.CodeChainBroken, ui.CodePSAMBinding,
	} {
		msgs = append(msgs, ui.Refused(c))
	}
	for _, m := range msgs {
		if m.Code == "" || !hasHan(m.ZH) || m.EN == "" || hasHan(m.EN) {
			t.Errorf("message %+v: want a code, Chinese ZH and English EN", m)
		}
		if strings.HasPrefix(m.EN, "Refused: ") {
			t.Errorf("%s: standard message falls back to the generic refusal", m.Code)
		}
	}
	if got := ui.Refused(ui.CodeInsufficient).String(); got != "余额不足 / Insufficient balance" {
		t.Errorf("insufficient = %q", got)
	}
}

func TestNumbersInMessages(t *testing.T) {
	if m := ui.ChainBroken(17); m.Code != ui.CodeChainBroken || !strings.Contains(m.ZH, "17") || !strings.Contains(m.EN, "record 17") {
		t.Errorf("chain broken = %+v", m)
	}
	if m := ui.OfflineTooLong(7); m.Code != ui.CodeOfflineTooLong || !strings.Contains(m.ZH, "7天") || !strings.Contains(m.EN, "7 days") {
		t.Errorf("offline too long = %+v", m)
	}
	if m := ui.Refused(ui.CodeDeviceRevoked); m.ZH != "设备已停用 请联系技术员" || m.EN != "Device revoked, call the technician" {
		t.Errorf("revoked = %+v", m)
	}
	a := ui.Approved(1250, 8750)
	if a.Code != ui.CodeApproved || !a.OK() || a.Amount != 1250 || !a.HasAmount || a.Balance != 8750 || !a.HasBalance {
		t.Errorf("approved = %+v", a)
	}
	if !strings.Contains(a.ZH, "12.50") || !strings.Contains(a.ZH, "87.50") || !strings.Contains(a.EN, "87.50") {
		t.Errorf("approved text = %q / %q", a.ZH, a.EN)
	}
	w := ui.WrongPIN(2)
	if w.Code != ui.CodeWrongPIN || w.Retries != 2 || !strings.Contains(w.ZH, "2次") || !strings.Contains(w.EN, "2 tries") {
		t.Errorf("wrong PIN = %+v", w)
	}
	r := ui.RefusedWithBalance(ui.CodeMinBalance, 320)
	if r.OK() || !r.HasBalance || r.Balance != 320 || !strings.Contains(r.String(), "余额 Balance 3.20") {
		t.Errorf("min balance = %+v (%s)", r, r)
	}
	if p := ui.EnterPIN(6000); !p.HasAmount || !strings.Contains(p.ZH, "60.00") {
		t.Errorf("enter PIN = %+v", p)
	}
	u := ui.Text("brand_new_code")
	if u.Code != "brand_new_code" || !strings.Contains(u.ZH, "brand_new_code") || u.OK() {
		t.Errorf("unknown code = %+v", u)
	}
	if c := ui.Custom("x", "甲", "A"); c.String() != "甲 / A" {
		t.Errorf("custom = %q", c)
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{
		0: "0.00", 5: "0.05", 1250: "12.50", -1250: "-12.50", 100: "1.00",
		math.MaxInt64: "92233720368547758.07", math.MinInt64: "-92233720368547758.08",
	} {
		if got := ui.Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestPINIsRedacted(t *testing.T) {
	p := ui.NewPIN("482913")
	var b bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		fmt.Fprintf(&b, verb+"|", p)
	}
	fmt.Fprintf(&b, "%v|", struct{ P ui.PIN }{p})
	slog.New(slog.NewJSONHandler(&b, nil)).Info("tap", "pin", p)
	slog.New(slog.NewTextHandler(&b, nil)).Info("tap", "pin", p)
	out := b.String()
	if strings.Contains(out, "482913") || strings.Contains(out, "34383239") || strings.Contains(out, "52 56 50") {
		t.Fatalf("PIN digits printed: %s", out)
	}
	if !strings.Contains(out, "******") {
		t.Fatalf("no redaction marker: %s", out)
	}
	if p.Reveal() != "482913" || p.Len() != 6 {
		t.Fatal("Reveal lost the digits")
	}
}
