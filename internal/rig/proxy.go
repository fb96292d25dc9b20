package rig

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Network states of a proxy.
const (
	netUp    = ""
	netDrop  = "drop"  // a pulled cable: connections hang, nothing arrives
	netReset = "reset" // a refusing firewall: every connection is reset
)

// proxy is the network between one device and the ledger: a loopback TCP
// proxy whose address the device's sync.ledger names and which forwards
// to wherever the ledger listens now (a restarted ledgerd listens on a new
// port). cut and heal change what it does to traffic.
type proxy struct {
	ln net.Listener

	mu       sync.Mutex
	upstream string
	state    string
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// newProxy listens on 127.0.0.1 on a free port.
func newProxy() (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rig: proxy: %w", err)
	}
	p := &proxy{ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// addr is the address devices dial.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// setUpstream points the proxy at the ledger's address.
func (p *proxy) setUpstream(addr string) {
	p.mu.Lock()
	p.upstream = addr
	p.mu.Unlock()
}

// cut cuts the network: every open connection ends (reset: with a TCP
// reset), and until heal a new one is either held without an answer, what
// it sends swallowed (drop, a pulled cable: the device's requests time
// out), or reset at once (reset, a refusing firewall).
func (p *proxy) cut(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = mode
	for c := range p.conns {
		p.endLocked(c)
	}
}

// endLocked ends a connection as the current state says.
func (p *proxy) endLocked(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok && p.state == netReset {
		_ = tc.SetLinger(0) // RST, not FIN
	}
	_ = c.Close()
	delete(p.conns, c)
}

// heal restores the network; connections held by a drop are closed so
// that their clients notice and retry.
func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = netUp
	for c := range p.conns {
		p.endLocked(c)
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

// serve handles one device connection.
func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.conns[c] = struct{}{}
	state, up := p.state, p.upstream
	p.mu.Unlock()
	defer p.untrack(c)
	switch {
	case state == netReset:
		p.mu.Lock()
		p.endLocked(c)
		p.mu.Unlock()
		return
	case state == netDrop || up == "":
		// Hold it and swallow what arrives, until heal or cut closes it.
		_, _ = io.Copy(io.Discard, c)
		return
	}
	u, err := net.Dial("tcp", up)
	if err != nil {
		return // the ledger is down: the device sees the connection closed
	}
	if !p.track(u) {
		return
	}
	defer p.untrack(u)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}

// close stops the proxy and ends its connections.
func (p *proxy) close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		p.endLocked(c)
	}
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
