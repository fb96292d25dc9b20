package config

import (
	"errors"
	"testing"
)

func TestControlUnixPathAbsolute(t *testing.T) {
	for addr, ok := range map[string]bool{
		"unix:/run/yktd/control.sock": true, "unix:control.sock": false, "unix:": false, "unix:./c.sock": false,
	} {
		c := Control{Listen: addr}
		if err := c.validate(); (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: err = %v, want ok=%v", addr, err, ok)
		}
	}
}
