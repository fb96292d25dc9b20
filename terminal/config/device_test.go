package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestKioskKind: kind = "kiosk" is read with the [kiosk] section's
// defaults; a wrong kind names the three kinds; the kiosk's ranges are
// checked.
func TestKioskKind(t *testing.T) {
	text := strings.Replace(minimalGate, `kind = "gate"`, `kind = "kiosk"`, 1)
	c, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.Kind != KindKiosk || !c.Kiosk.Auto() || c.Kiosk.MaxBalanceFen != DefaultKioskMaxBalanceFen ||
		c.Kiosk.SessionTimeout.D() != DefaultKioskSessionTimeout || c.Kiosk.LedgerTimeout.D() != DefaultKioskLedgerTimeout {
		t.Fatalf("kiosk config %+v %+v", c.Device, c.Kiosk)
	}
	off, err := Parse([]byte(text + "\n[kiosk]\nauto_claim = false\nsession_timeout = \"2m\"\n"))
	if err != nil || off.Kiosk.Auto() || off.Kiosk.SessionTimeout.D() != 2*time.Minute {
		t.Fatalf("auto_claim = false: %+v %v", off.Kiosk, err)
	}
	for _, bad := range []string{"session_timeout = \"1s\"", "max_balance_fen = -1", "key_index = 300"} {
		if _, err := Parse([]byte(text + "\n[kiosk]\n" + bad + "\n")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "kiosk.") {
			t.Errorf("%s: err = %v, want ErrInvalid naming the key", bad, err)
		}
	}
	_, err = Parse([]byte(strings.Replace(minimalGate, `kind = "gate"`, `kind = "atm"`, 1)))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "pos, gate, kiosk or desk") {
		t.Fatalf("kind atm: %v", err)
	}
}
