package config

import (
	"net"
	"strings"
)

// Control is the local control interface the rig and tests use to tap,
// remove and tear virtual cards and drive board inputs. It has no
// authentication, so it only ever listens on loopback or a unix socket.
type Control struct {
	// Listen is "127.0.0.1:PORT", "[::1]:PORT" or "unix:/path"; empty disables it.
	Listen string `toml:"listen"`
}

func (c *Control) defaults() {}

func (c *Control) validate() error {
	if c.Listen == "" || strings.HasPrefix(c.Listen, "unix:") {
		return nil
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return invalid("control.listen %q: %v", c.Listen, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return invalid("control.listen %q: only loopback or unix: addresses (the control interface has no authentication)", c.Listen)
	}
	return nil
}
