package config

import (
	"net"
	"path/filepath"
	"strings"
)

// Control is the local control interface (docs/control.md): the rig and
// tests tap, remove and tear virtual cards and drive board inputs through
// it, and the cashier cancels the last sale. It only ever listens on a unix
// socket (mode 0600: who can open it may call everything) or on loopback
// TCP, where the Host and Origin of every request are checked and
// everything that changes state or money needs the credential the daemon
// writes to data_dir/control.token at every start.
type Control struct {
	// Listen is "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT" or
	// "unix:/absolute/path"; empty disables it.
	Listen string `toml:"listen"`
}

func (c *Control) defaults() {}

func (c *Control) validate() error {
	if c.Listen == "" {
		return nil
	}
	if path, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return invalid("control.listen %q: a unix socket needs an absolute path", c.Listen)
		}
		return nil
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return invalid("control.listen %q: %v", c.Listen, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return invalid("control.listen %q: only loopback or unix: addresses (a web page or another host must not reach the control interface)", c.Listen)
	}
	return nil
}
