package terminal

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
)

// fuzzToken is the credential of the guard FuzzControlGuard attacks.
const fuzzToken = "3f2a9c0d5e6b7a8190fedcba98765432100123456789abcdef0123456789abcd"

// FuzzControlGuard: whatever Host and headers a request carries, the guard
// lets it in only with the listener's own Host and no foreign Origin, and
// grants the credential only for exactly the token.
func FuzzControlGuard(f *testing.F) {
	f.Add("127.0.0.1:7788", "", "Bearer "+fuzzToken, "")
	f.Add("localhost:7788", "http://localhost:7788", "bearer "+fuzzToken, "same-origin")
	f.Add("evil.example:7788", "http://evil.example", "Bearer "+fuzzToken, "cross-site")
	f.Add("127.0.0.1:7788", "null", "", "")
	f.Add("127.0.0.1:7788", "", "Bearer "+fuzzToken[:63], "none")
	f.Add("127.0.0.1:7788", "http://127.0.0.1:7788", "Basic dXNlcjpwYXNz", "same-site")
	f.Fuzz(func(t *testing.T, host, origin, auth, site string) {
		g := &controlGuard{hosts: []string{"127.0.0.1:7788", "localhost:7788"}, token: sha256.Sum256([]byte(fuzzToken))}
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if site != "" {
			h.Set("Sec-Fetch-Site", site)
		}
		cred, deny := g.admit(host, h)
		if deny != nil {
			if deny.status != http.StatusForbidden || (deny.code != CtlBadHost && deny.code != CtlForeignOrigin) {
				t.Fatalf("denied with %+v", deny)
			}
			return
		}
		if !strings.EqualFold(host, "127.0.0.1:7788") && !strings.EqualFold(host, "localhost:7788") {
			t.Fatalf("Host %q admitted", host)
		}
		if origin != "" && !strings.EqualFold(origin, "http://127.0.0.1:7788") && !strings.EqualFold(origin, "http://localhost:7788") {
			t.Fatalf("Origin %q admitted", origin)
		}
		if site != "" && site != "same-origin" && site != "none" {
			t.Fatalf("Sec-Fetch-Site %q admitted", site)
		}
		scheme, tok, _ := strings.Cut(auth, " ")
		granted := cred == nil
		if want := strings.EqualFold(scheme, "Bearer") && tok == fuzzToken; granted != want {
			t.Fatalf("Authorization %q: granted %v", auth, granted)
		}
		if !granted && cred.status != http.StatusUnauthorized {
			t.Fatalf("credential refused with %+v", cred)
		}
	})
}

// FuzzCancelBody: cancel-last's body decoder takes {"pin": "..."} or
// nothing, and refuses anything else whole.
func FuzzCancelBody(f *testing.F) {
	f.Add(`{"pin": "2580"}`)
	f.Add(``)
	f.Add(`{"pin": 2580}`)
	f.Add(`{"pin": "2580"} {}`)
	f.Add(`{"pin": "2580", "amount": 1}`)
	f.Add(`{"PIN": "2580"}`)
	f.Fuzz(func(t *testing.T, body string) {
		pin, ok := decodeCancelBody(strings.NewReader(body))
		if !ok && pin != "" {
			t.Fatalf("refused body %q but kept PIN %q", body, pin)
		}
		if ok && pin != "" && !strings.Contains(body, "pin") && !strings.Contains(strings.ToLower(body), "pin") &&
			!strings.Contains(body, `\u`) {
			t.Fatalf("body %q gave PIN %q without a pin key", body, pin)
		}
	})
}

// FuzzKioskBody: the kiosk session API's body decoder takes one object
// with a session id (and an amount and a PIN as the step needs), and
// refuses anything else whole: unknown keys, trailing data, no session.
func FuzzKioskBody(f *testing.F) {
	f.Add(`{"session": "8d2855c1ad5b0c0d", "amount": 10000, "pin": "123456"}`)
	f.Add(`{"session": "8d2855c1ad5b0c0d"}`)
	f.Add(`{"amount": 100}`)
	f.Add(`{"session": "x", "amount": "100"}`)
	f.Add(`{"session": "x"} {"session": "y"}`)
	f.Add(`{"session": "x", "Amount": 1, "card": "10012026090100000001"}`)
	f.Add(`{"session": "x", "amount": 1e400}`)
	f.Add(`{"session": "x", "trade": "unfreeze", "pin": "123456", "national_id": "11010519491231002X"}`)
	f.Add(`{"session": "x", "trade": "set-limit", "pin": "123456", "tx_limit": 2000, "unblock": 3}`)
	f.Fuzz(func(t *testing.T, body string) {
		b, ok := decodeKioskBody(strings.NewReader(body))
		if !ok {
			if b != (kioskBody{}) {
				t.Fatalf("refused body %q but kept %+v", body, b)
			}
			return
		}
		if b.Session == "" {
			t.Fatalf("body %q accepted without a session", body)
		}
	})
}
