package config

import (
	"errors"
	"strings"
	"testing"
)

// TestKioskNotYet: there is no kiosk in this version, so a configuration
// that says kind = "kiosk" is refused when it is read, with a message that
// says so, instead of passing the check and failing in the daemon.
func TestKioskNotYet(t *testing.T) {
	text := strings.Replace(minimalGate, `kind = "gate"`, `kind = "kiosk"`, 1)
	_, err := Parse([]byte(text))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("kind = \"kiosk\": err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{`device.kind "kiosk"`, "no kiosk", "pos or gate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
