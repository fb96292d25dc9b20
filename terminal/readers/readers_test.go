//go:build linux

package readers_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/openykt/yktd/internal/ptytest"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pn532/pn532sim"
	"github.com/openykt/yktd/reader/qrscan"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/wiegand"
	"github.com/openykt/yktd/reader/wiegand/wiegandtest"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/readers"
)

const deadline = 10 * time.Second

func parse(t *testing.T, tables string) []config.Reader {
	t.Helper()
	c, err := config.Parse([]byte("[device]\nid = \"P1\"\nkind = \"pos\"\ndata_dir = \"/var/lib/yktd\"\n[board]\nbackend = \"fake\"\n[pos]\nmode = \"keyed\"\n" + tables))
	if err != nil {
		t.Fatal(err)
	}
	return c.Readers
}

// fakePins resolves GPIO names to fake pins and refuses other names.
func fakePins(pins ...*wiegandtest.Pin) func(string) (gpio.PinIn, error) {
	return func(name string) (gpio.PinIn, error) {
		for _, p := range pins {
			if p.Name() == name {
				return p, nil
			}
		}
		return nil, readers.ErrNoPin
	}
}

func testOptions(pins ...*wiegandtest.Pin) readers.Options {
	return readers.Options{
		Log:        slog.New(slog.DiscardHandler),
		Pin:        fakePins(pins...),
		PCSCSocket: filepath.Join("/nonexistent", "pcscd.comm"),
	}
}

func TestBuildEveryDriver(t *testing.T) {
	_, qrDev := ptytest.Open(t)
	_, nfcDev := ptytest.Open(t)
	d0, d1 := wiegandtest.NewPin("GPIO17", 17), wiegandtest.NewPin("GPIO27", 27)
	cfg := parse(t, `
[[reader]]
name = "window"
driver = "pcsc"
match = "ACR122"

[[reader]]
name = "nfc"
driver = "pn532"
device = "`+nfcDev+`"

[[reader]]
name = "qr"
driver = "qrscan"
device = "`+qrDev+`"

[[reader]]
name = "door"
driver = "wiegand"
d0 = "GPIO17"
d1 = "GPIO27"

[[reader]]
name = "rig"
driver = "sim"
`)
	rs, err := readers.Build(cfg, testOptions(d0, d1))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 5 {
		t.Fatalf("%d readers", len(rs))
	}
	for i, want := range []string{"window", "nfc", "qr", "door", "rig"} {
		if rs[i].Name() != want {
			t.Errorf("reader %d named %q, want %q", i, rs[i].Name(), want)
		}
	}
	if _, ok := rs[2].(*qrscan.Reader); !ok {
		t.Errorf("qr is %T", rs[2])
	}
	if _, ok := rs[3].(*wiegand.Reader); !ok {
		t.Errorf("door is %T", rs[3])
	}
	if _, ok := rs[4].(*sim.Reader); !ok {
		t.Errorf("rig is %T", rs[4])
	}
	ctx := context.Background()
	// pcscd is not at the test socket: the PC/SC reader does not open.
	if err := readers.Probe(ctx, rs[0]); !errors.Is(err, reader.ErrTransport) {
		t.Errorf("pcsc probe = %v, want ErrTransport", err)
	}
	for _, i := range []int{1, 2, 3, 4} {
		if err := readers.Probe(ctx, rs[i]); err != nil {
			t.Errorf("probe %s: %v", rs[i].Name(), err)
		}
	}
	if d0.Pull() != gpio.PullUp || d1.Pull() != gpio.PullUp {
		t.Error("wiegand probe did not set the pins up")
	}
}

// A PN532 built from the configuration runs the pn532 driver on the
// configured device: with a simulated module behind the pty, a tap comes
// out as CardPresent under the configured name.
func TestBuildPN532(t *testing.T) {
	p, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	mod := pn532sim.New(p.Master)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); mod.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	rs, err := readers.Build(parse(t, "[[reader]]\nname = \"nfc\"\ndriver = \"pn532\"\ndevice = \""+p.SlavePath+"\"\npoll = \"20ms\"\n"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := readers.Probe(ctx, rs[0]); err != nil {
		t.Fatalf("probe: %v", err)
	}
	card, err := sim.Catalogue()[0].Issue()
	if err != nil {
		t.Fatal(err)
	}
	mod.Tap(card)
	events := make(chan reader.Event, 4)
	runDone := make(chan error, 1)
	go func() { runDone <- rs[0].Run(ctx, events) }()
	select {
	case e := <-events:
		if e.Kind != reader.CardPresent || e.Reader != "nfc" || e.Card == nil {
			t.Errorf("event %v", e)
		}
	case <-time.After(deadline):
		t.Fatal("no tap from the PN532")
	}
	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run = %v after cancel", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not stop")
	}
}

func TestMissingDevicesAndPins(t *testing.T) {
	ctx := context.Background()
	rs, err := readers.Build(parse(t, `
[[reader]]
name = "qr"
driver = "qrscan"
device = "/dev/serial/by-id/no-such-scanner"
[[reader]]
name = "nfc"
driver = "pn532"
device = "/dev/serial/by-id/no-such-pn532"
`), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		err := readers.Probe(ctx, r)
		if !errors.Is(err, reader.ErrTransport) || !strings.Contains(err.Error(), "no-such-") || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("probe %s = %v", r.Name(), err)
		}
	}

	d0 := wiegandtest.NewPin("GPIO17", 17)
	_, err = readers.Build(parse(t, "[[reader]]\nname = \"door\"\ndriver = \"wiegand\"\nd0 = \"GPIO17\"\nd1 = \"GPIO99\"\n"), testOptions(d0))
	if !errors.Is(err, readers.ErrNoPin) || !strings.Contains(err.Error(), `"door"`) || !strings.Contains(err.Error(), "d1") {
		t.Errorf("missing pin: %v", err)
	}
	// The default resolver goes through periph's host drivers and names
	// the kernel requirement.
	opts := testOptions()
	opts.Pin = nil
	_, err = readers.Build(parse(t, "[[reader]]\nname = \"door\"\ndriver = \"wiegand\"\nd0 = \"NO_SUCH_PIN_A\"\nd1 = \"NO_SUCH_PIN_B\"\n"), opts)
	if err == nil || !strings.Contains(err.Error(), "NO_SUCH_PIN_A") {
		t.Fatalf("default resolver: %v", err)
	}
	if errors.Is(err, readers.ErrNoPin) && !strings.Contains(err.Error(), "kernel 5.10") {
		t.Errorf("missing pin error does not name the kernel requirement: %v", err)
	}
}

func TestPCSCWithoutPcscd(t *testing.T) {
	for _, match := range []string{"", "ACR122"} {
		text := "[[reader]]\nname = \"window\"\ndriver = \"pcsc\"\n"
		if match != "" {
			text += "match = \"" + match + "\"\n"
		}
		rs, err := readers.Build(parse(t, text), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		err = rs[0].Run(ctx, make(chan reader.Event))
		cancel()
		if !errors.Is(err, reader.ErrTransport) {
			t.Errorf("match %q: Run = %v, want ErrTransport", match, err)
		}
	}
}

// A QR scanner built from the configuration runs under reader.Manager and
// its events carry the configured name.
func TestQRScanFromConfig(t *testing.T) {
	master, dev := ptytest.Open(t)
	cfg := parse(t, "[[reader]]\nname = \"gate-qr\"\ndriver = \"qrscan\"\ndevice = \""+dev+"\"\nterminator = \"lf\"\nprefix = \"]Q1\"\n")
	opened := make(chan struct{}, 1)
	opts := testOptions()
	opts.SerialOpen = openNotify(opened)
	rs, err := readers.Build(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan reader.Event, 4)
	go (&reader.Manager{Readers: rs, Log: slog.New(slog.DiscardHandler)}).Run(ctx, events)
	select {
	case <-opened:
	case <-time.After(deadline):
		t.Fatal("port not opened")
	}
	if _, err := master.Write([]byte("]Q1HC1:TOKEN\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Reader != "gate-qr" || e.Kind != reader.TextCredential || e.Text != "HC1:TOKEN" {
			t.Errorf("event %v %q", e, e.Text)
		}
	case <-time.After(deadline):
		t.Fatal("no event")
	}
}

func TestDescribe(t *testing.T) {
	cfg := parse(t, `
[[reader]]
driver = "pcsc"
[[reader]]
name = "p2"
driver = "pcsc"
match = "ACR"
backend = "auto"
[[reader]]
driver = "qrscan"
device = "/dev/ttyS2"
[[reader]]
driver = "pn532"
device = "/dev/ttyS3"
baud = 57600
[[reader]]
driver = "wiegand"
d0 = "GPIO5"
d1 = "GPIO6"
[[reader]]
driver = "sim"
`)
	want := []string{
		"all PC/SC readers backend=pure",
		`match="ACR" backend=auto`,
		"device=/dev/ttyS2 baud=9600",
		"device=/dev/ttyS3 baud=57600",
		"d0=GPIO5 d1=GPIO6 formats=h10301,h10306",
		"virtual",
	}
	for i, c := range cfg {
		if got := readers.Describe(c); got != want[i] {
			t.Errorf("Describe(%s) = %q, want %q", c.Name, got, want[i])
		}
	}
}
