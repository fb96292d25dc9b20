package perf

import "testing"

func TestControlAddr(t *testing.T) {
	for line, want := range map[string]string{
		`time=2026-12-07T21:00:00.000+08:00 level=INFO msg="yktd: running" device=PERF-POS kind=pos store=/tmp/d/yktd.db readers=1 control=127.0.0.1:41234`: "127.0.0.1:41234",
		`time=x level=INFO msg="yktd: running" device=P control="unix:/run/yktd/control.sock"`:                                                              "unix:/run/yktd/control.sock",
		`time=x level=INFO msg="yktd: shutting down"`:                                                                                                       "",
		`time=x level=INFO msg="enrolled" control=1.2.3.4:5`:                                                                                                "",
	} {
		got, ok := ControlAddr(line)
		if got != want || ok != (want != "") {
			t.Errorf("ControlAddr(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
}

func TestCode(t *testing.T) {
	for line, want := range map[string]string{
		"== approved ==":       "approved",
		"== (clear) ==":        "(clear)",
		"== no_status_list ==": "no_status_list",
		"交易成功 消费 12.50元 余额 87.50元": "",
		"==  ==":          "",
		"== two words ==": "",
		"== approved":     "",
	} {
		if got := Code(line); got != want {
			t.Errorf("Code(%q) = %q, want %q", line, got, want)
		}
	}
}
