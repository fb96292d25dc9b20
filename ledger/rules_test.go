package ledger_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

func TestRulesServed(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "gate-1", protocol.DeviceGate)
	ask := func(have uint64) (int, []byte) {
		return tl.Post(t, "/v1/rules", dev.Seal(t, &protocol.RulesRequest{DeviceID: dev.ID, Have: have}))
	}
	if status, _ := ask(0); status != http.StatusNoContent {
		t.Errorf("no rules: HTTP %d", status)
	}
	file, err := os.ReadFile(filepath.Join("testdata", "rules-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 2; want++ {
		if v, err := tl.SetRulesJSON(file); err != nil || v != want {
			t.Fatalf("set: %d %v", v, err)
		}
	}
	status, body := ask(1)
	if status != http.StatusOK {
		t.Fatalf("HTTP %d %v", status, ledgertest.ErrorOf(body))
	}
	r, h, err := protocol.Open[protocol.Rules](tl.Keys(), body, dev.ID)
	if err != nil || r.Version != 2 || h.Version != 2 || r.Issued != clk.Now().UnixMilli() || len(r.Groups) != 1 || len(r.QRIssuers) != 1 {
		t.Fatalf("rules %+v %+v %v", r, h, err)
	}
	if status, _ := ask(2); status != http.StatusNoContent {
		t.Errorf("current: HTTP %d", status)
	}
	_, body = ask(3)
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeStaleVersion)
}

func TestParseRulesRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"unknown field", `{"pin_limit": 5000}`},
		{"trailing data", `{} {}`},
		{"negative price", `{"prices": {"x": -1}}`},
		{"meal end before start", `{"meals": [{"name": "lunch", "start": 800, "end": 700}]}`},
		{"minutes beyond a day", `{"profiles": [{"id": "p", "windows": [{"days": 1, "start": 0, "end": 1441}]}]}`},
		{"group of an unknown profile", `{"groups": [{"id": "g", "doors": ["d"], "profile": "nope"}]}`},
		{"bad holiday date", `{"holidays": [{"date": "2026-13-01"}]}`},
		{"issuer key not Ed25519", `{"qr_issuers": [{"kid": "k", "alg": -7, "key": "AAAA"}]}`},
		{"not JSON", `pin_limit_fen = 5`},
		{"issuer key id the protocol refuses", `{"qr_issuers": [{"kid": "a b", "alg": -8, "key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ledger.ParseRules([]byte(tc.in)); !errors.Is(err, ledger.ErrInvalid) {
				t.Errorf("err %v, want ErrInvalid", err)
			}
		})
	}
}

func TestIssuerKeysFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keys.json")
	keys := []byte(`{"comment": "TEST", "terminal_id": "0000000000F1", "keys": [{"version": 1,
		"purchase": "00112233445566778899AABBCCDDEEFF", "load": "00112233445566778899AABBCCDDEEFF", "tac": "00112233445566778899AABBCCDDEEFF"}]}`)
	if err := os.WriteFile(p, keys, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.ReadIssuerKeys(p); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("mode 0644 accepted: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := ledger.ReadIssuerKeys(p)
	if err != nil || len(k) != 1 || len(k[1].TAC) != 16 {
		t.Fatalf("keys %v %v", k, err)
	}
	for _, bad := range []string{`{"keys": []}`, `{"keys": [{"purchase": "00"}]}`, `{"keys": [{"version": 1, "purchase": "00", "load": "00", "tac": "00"}]}`, `{"x": 1}`} {
		if _, err := ledger.ParseIssuerKeys([]byte(bad)); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
