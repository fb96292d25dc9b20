package terminal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/openykt/yktd/internal/atomicfile"
)

// ControlTokenName is the file, in the device's data directory (else the
// store's directory), where the daemon writes the control interface's
// credential at every start when it listens on loopback TCP: 64 hex
// digits and a newline, mode 0600. A caller sends it as
// "Authorization: Bearer <token>" (ControlClient does).
const ControlTokenName = "control.token"

// Stable codes of the control interface's refusals (the "code" of its JSON
// error answers).
const (
	CtlBadHost            = "bad_host"            // 403: Host is not the listener's own address
	CtlForeignOrigin      = "foreign_origin"      // 403: a web page of another origin sent it
	CtlCredentialRequired = "credential_required" // 401: no Authorization: Bearer
	CtlCredentialWrong    = "credential_wrong"    // 401: a bearer token that is not this start's
	CtlBadRequest         = "bad_request"         // 400: the body is not what the endpoint takes
	CtlNotAPOS            = "not_a_pos"           // 409: cancel-last on a gate
	CtlBoardReal          = "board_real"          // 409: inputs of a real board cannot be driven
	CtlUnknownInput       = "unknown_input"       // 404: no input of that name
	CtlStoreFault         = "store_fault"         // 500: the store failed; see the log
	CtlNoSession          = "no_session"          // 404: no card in the kiosk, or the session named ended
	CtlSessionBusy        = "session_busy"        // 409: a step of the kiosk's session is running
	CtlNoOperator         = "no_operator"         // 403: a service desk's step with no operator signed in
	CtlTamperActive       = "tamper_active"       // 409: the case is still open: close it before clearing the tamper alarm
	CtlNoTamper           = "no_tamper"           // 409: no tamper alarm to clear
)

// access is who may call an endpoint. On the unix socket every caller may
// call every endpoint (the socket's 0600 mode is the authority); on
// loopback TCP the credential is needed where access says so. The cashier's
// PIN is needed on both.
type access int

const (
	accessOpen       access = iota // anyone past the Host and Origin checks
	accessRedacted                 // anyone; card numbers only with the credential
	accessCredential               // the device credential
	accessCashier                  // the device credential and the cashier's PIN
)

// String names the access level in GET / and docs/control.md.
func (a access) String() string {
	switch a {
	case accessOpen:
		return "open"
	case accessRedacted:
		return "open, card numbers with the credential"
	case accessCredential:
		return "credential"
	case accessCashier:
		return "credential and cashier PIN"
	}
	return "none"
}

// callerKey is the request context key of the caller's standing: the
// *refusal of its credential, nil when it holds it (or came through the
// unix socket).
type callerKey struct{}

// credentialed reports whether the request's caller holds the credential
// (or came through the unix socket).
func credentialed(r *http.Request) bool {
	ref, ok := r.Context().Value(callerKey{}).(*refusal)
	return ok && ref == nil
}

// controlGuard admits requests to the control interface: on loopback TCP
// the Host and Origin checks on every request and the bearer credential;
// on the unix socket everyone who could connect.
type controlGuard struct {
	unix  bool
	hosts []string // accepted Host values: the listener's address, localhost:PORT
	token [sha256.Size]byte
}

// newControlGuard makes the guard of ln; for a TCP listener it makes a new
// credential and writes it to tokenPath (0600, atomically).
func newControlGuard(ln net.Listener, tokenPath string) (*controlGuard, error) {
	if _, ok := ln.(*unixSocket); ok {
		return &controlGuard{unix: true}, nil
	}
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !a.IP.IsLoopback() {
		return nil, fmt.Errorf("terminal: control interface on %v: loopback TCP or a unix socket only", ln.Addr())
	}
	ip, port := a.IP.String(), fmt.Sprint(a.Port)
	if a.IP.To4() == nil {
		ip = "[" + ip + "]"
	}
	g := &controlGuard{hosts: []string{ip + ":" + port, "localhost:" + port}}
	if a.Port == 80 { // clients leave the default port out of Host
		g.hosts = append(g.hosts, ip, "localhost")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("terminal: control credential: %w", err)
	}
	tok := hex.EncodeToString(raw[:])
	if err := atomicfile.Write(tokenPath, []byte(tok+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("terminal: control credential: %w", err)
	}
	g.token = sha256.Sum256([]byte(tok))
	return g, nil
}

// refusal is why the guard refused a request.
type refusal struct {
	status int
	code   string
	msg    string
}

// admit checks one request's Host and headers. It returns whether the
// caller holds the credential and, when the request must not be served at
// all (Host, Origin), the refusal; a missing or wrong credential is
// reported in cred for the endpoints that need it.
func (g *controlGuard) admit(host string, h http.Header) (cred *refusal, deny *refusal) {
	if g.unix {
		return nil, nil
	}
	if !g.ownHost(host) {
		return nil, &refusal{http.StatusForbidden, CtlBadHost,
			fmt.Sprintf("Host %q is not this interface (%s): refused against DNS rebinding", host, g.hosts[0])}
	}
	if vs, ok := h["Origin"]; ok && (len(vs) != 1 || !g.ownOrigin(vs[0])) {
		return nil, &refusal{http.StatusForbidden, CtlForeignOrigin, "requests from web pages are refused"}
	}
	if site := h.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return nil, &refusal{http.StatusForbidden, CtlForeignOrigin, "requests from web pages are refused"}
	}
	auth := h.Values("Authorization")
	if len(auth) == 0 {
		return &refusal{http.StatusUnauthorized, CtlCredentialRequired, "send the device credential: Authorization: Bearer <" + ControlTokenName + ">"}, nil
	}
	scheme, tok, ok := strings.Cut(auth[0], " ")
	if len(auth) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return &refusal{http.StatusUnauthorized, CtlCredentialRequired, "send the device credential: Authorization: Bearer <" + ControlTokenName + ">"}, nil
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], g.token[:]) != 1 {
		return &refusal{http.StatusUnauthorized, CtlCredentialWrong, "wrong credential: read " + ControlTokenName + " of this start of the daemon"}, nil
	}
	return nil, nil
}

func (g *controlGuard) ownHost(host string) bool {
	for _, h := range g.hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

func (g *controlGuard) ownOrigin(origin string) bool {
	rest, ok := strings.CutPrefix(origin, "http://")
	return ok && g.ownHost(rest)
}

// wrap serves every request through the guard: Host and Origin first, then
// the credential where the route's access needs it.
func (g *controlGuard) wrap(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, deny := g.admit(r.Host, r.Header)
		if deny != nil {
			refuse(w, deny)
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, cred)))
	})
}

// needCredential serves h only to a caller with the credential.
func needCredential(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !credentialed(r) {
			ref, _ := r.Context().Value(callerKey{}).(*refusal)
			if ref == nil {
				ref = &refusal{http.StatusUnauthorized, CtlCredentialRequired, "send the device credential"}
			}
			refuse(w, ref)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func refuse(w http.ResponseWriter, ref *refusal) {
	if ref.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="yktd control"`)
	}
	writeError(w, ref.status, ref.code, ref.msg)
}

// writeError answers a refusal or failure as {"error": msg, "code": code}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

// controlTokenPath is where this daemon writes its control credential.
func (d *Daemon) controlTokenPath() string {
	dir := d.cfg.Device.DataDir
	if dir == "" {
		dir = filepath.Dir(d.deps.Store.Path())
	}
	return filepath.Join(dir, ControlTokenName)
}

// ControlTokenPath returns the file holding the control interface's
// credential, or "" when the interface needs none (a unix socket) or is off.
func (d *Daemon) ControlTokenPath() string {
	if _, unix := d.ctlLn.(*unixSocket); d.ctlLn == nil || unix {
		return ""
	}
	return d.controlTokenPath()
}

// GuardControl puts h behind the control interface's guard on the
// loopback TCP listener ln: the Host and Origin checks on every request and
// a new credential, written to tokenPath (0600), required for every one.
// A tool that serves controls of its own beside the daemon (`yktd rig
// vcard --control`) uses it, so that it names the same authority and
// NewControlClient reaches it the same way.
func GuardControl(ln net.Listener, tokenPath string, h http.Handler) (http.Handler, error) {
	if _, ok := ln.Addr().(*net.TCPAddr); !ok {
		return nil, fmt.Errorf("terminal: control guard on %v: loopback TCP only", ln.Addr())
	}
	g, err := newControlGuard(ln, tokenPath)
	if err != nil {
		return nil, err
	}
	return g.wrap(needCredential(h)), nil
}
