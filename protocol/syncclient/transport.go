package syncclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// TransportOptions say how the client reaches the ledger over the network.
// The zero value of a duration field takes its default.
type TransportOptions struct {
	// CAPEM is the ledger's CA certificate(s), PEM, pinned at enrolment:
	// the only roots an https ledger is verified against (never the
	// system's). Required for an https ledger.
	CAPEM []byte
	// ServerName overrides the name checked in the ledger's certificate
	// (default: the host of the ledger URL).
	ServerName string
	// ClientCert is a TLS client certificate, where the campus uses one.
	ClientCert *tls.Certificate
	// Proxy is an HTTP proxy URL ("http://host:port"); nil uses none. It is
	// never taken from the environment: a terminal's route is configured.
	Proxy *url.URL
	// DialTimeout bounds connecting (default 10s), TLSHandshakeTimeout the
	// handshake (10s), ResponseHeaderTimeout the wait for an answer after
	// sending (30s: the ledger commits a batch before answering), and
	// RequestTimeout a whole request including the body (60s).
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	RequestTimeout        time.Duration
}

// ErrNoCA: an https ledger was configured without a pinned CA.
var ErrNoCA = errors.New("syncclient: https ledger needs a pinned CA")

// NewHTTPClient builds the *http.Client the sync client uses for a ledger
// at ledgerURL: TLS 1.2+ verified against CAPEM only, the optional client
// certificate, the explicit proxy (or none) and the timeouts. A plain http
// ledger (loopback tests, a ledger behind a local TLS terminator) gets no
// TLS configuration.
func NewHTTPClient(ledgerURL string, o TransportOptions) (*http.Client, error) {
	u, err := url.Parse(ledgerURL)
	if err != nil {
		return nil, fmt.Errorf("syncclient: ledger url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("syncclient: ledger url %q: scheme must be http or https", ledgerURL)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.TLSHandshakeTimeout <= 0 {
		o.TLSHandshakeTimeout = 10 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 30 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 60 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   o.TLSHandshakeTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		MaxIdleConns:          2,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if o.Proxy != nil {
		if o.Proxy.Scheme != "http" {
			return nil, fmt.Errorf("syncclient: proxy %q: only http proxies are supported", o.Proxy.Redacted())
		}
		p := *o.Proxy
		tr.Proxy = http.ProxyURL(&p)
	}
	if u.Scheme == "https" {
		if len(o.CAPEM) == 0 {
			return nil, ErrNoCA
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.CAPEM) {
			return nil, fmt.Errorf("syncclient: pinned CA: no certificate in the PEM")
		}
		tc := &tls.Config{
			RootCAs:    pool,
			MinVersion: tls.VersionTLS12,
			ServerName: o.ServerName,
		}
		if o.ClientCert != nil {
			tc.Certificates = []tls.Certificate{*o.ClientCert}
		}
		tr.TLSClientConfig = tc
	}
	return &http.Client{
		Transport: tr,
		Timeout:   o.RequestTimeout,
		// The ledger never redirects; following one would send signed
		// messages somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
