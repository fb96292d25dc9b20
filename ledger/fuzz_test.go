package ledger_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// FuzzParseRules: the operator's rules file never panics the parser, and
// whatever it accepts is valid and encodes as a protocol message.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"pin_limit_fen": 5000, "prices": {"a": 1}}`))
	f.Add([]byte(`{"profiles": [{"id": "p", "windows": [{"days": 3, "start": 1, "end": 2}]}], "groups": [{"id": "g", "doors": ["d"], "profile": "p"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ledger.ParseRules(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		if err := ledger.ValidateRules(&r); err != nil {
			t.Fatalf("accepted rules do not validate: %v", err)
		}
		r.Version = 1
		if _, err := r.Encode(); err != nil {
			t.Fatalf("accepted rules do not encode: %v", err)
		}
	})
}

// FuzzParseIssuerKeys: the issuer key file parser never panics and
// returns 16-byte keys only.
func FuzzParseIssuerKeys(f *testing.F) {
	f.Add([]byte(`{"keys": [{"version": 1, "purchase": "00112233445566778899AABBCCDDEEFF", "load": "00112233445566778899AABBCCDDEEFF", "tac": "00112233445566778899AABBCCDDEEFF"}]}`))
	f.Add([]byte(`{"keys": []}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ledger.ParseIssuerKeys(b)
		if err != nil {
			return
		}
		for v, k := range keys {
			if len(k.Purchase) != 16 || len(k.Load) != 16 || len(k.TAC) != 16 {
				t.Fatalf("version %d: key lengths %d %d %d", v, len(k.Purchase), len(k.Load), len(k.TAC))
			}
		}
	})
}

var fuzzPaths = []string{"/v1/enrol", "/v1/batches", "/v1/status", "/v1/rules", "/v1/pending", "/v1/loads/init", "/v1/loads/confirm"}

// FuzzRequest posts hostile bodies to every endpoint of a real ledger: it
// never panics, never answers 5xx, and every refusal is a decodable Error.
func FuzzRequest(f *testing.F) {
	// f.Log may not be called from the fuzz function: logs are discarded.
	tl := ledgertest.Start(f, ledgertest.Options{Ledger: ledger.Options{Logger: slog.New(slog.DiscardHandler)}})
	dev := tl.Enrol(f, "pos-1", protocol.DevicePOS)
	srv, err := ledger.NewServer(tl.Ledger)
	if err != nil {
		f.Fatal(err)
	}
	tok, _, _ := tl.NewToken("pos-2", "pos")
	d2 := ledgertest.NewDevice(f, "pos-2")
	f.Add(uint8(0), d2.Seal(f, &protocol.EnrolRequest{DeviceID: "pos-2", Token: tok, PublicKey: d2.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: protocol.DevicePOS}))
	f.Add(uint8(2), dev.Seal(f, &protocol.StatusRequest{DeviceID: "pos-1", Have: 3}))
	f.Add(uint8(3), dev.Seal(f, &protocol.RulesRequest{DeviceID: "pos-1"}))
	f.Add(uint8(4), dev.Seal(f, &protocol.PendingRequest{DeviceID: "pos-1", CardNo: "123"}))
	f.Add(uint8(5), dev.Seal(f, &protocol.LoadInit{DeviceID: "pos-1", CardNo: "1", CardSerial: make([]byte, 8), TerminalID: make([]byte, 6), Amount: 1, Random: make([]byte, 4), MAC1: make([]byte, 4)}))
	f.Add(uint8(6), dev.Seal(f, &protocol.LoadConfirm{DeviceID: "pos-1", LoadID: "1", CardNo: "1", TAC: make([]byte, 4)}))
	f.Add(uint8(1), []byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := fuzzPaths[int(which)%len(fuzzPaths)]
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		switch {
		case w.Code >= 500:
			t.Fatalf("%s: HTTP %d", path, w.Code)
		case w.Code >= 400:
			if _, err := protocol.DecodeError(w.Body.Bytes()); err != nil {
				t.Fatalf("%s: HTTP %d with an undecodable error: %v", path, w.Code, err)
			}
		}
	})
}

var adminPaths = []string{"/admin/token", "/admin/devices", "/admin/revoke", "/admin/status", "/admin/load", "/admin/load/cancel", "/admin/load/list", "/admin/rules", "/admin/report", "/admin/rekey", "/admin/alerts"}

// FuzzAdminRequest posts hostile JSON to every operator endpoint of a real
// ledger: no panic, an answer that is JSON, 200 or 400.
func FuzzAdminRequest(f *testing.F) {
	// f.Log may not be called from the fuzz function: logs are discarded.
	tl := ledgertest.Start(f, ledgertest.Options{Ledger: ledger.Options{Logger: slog.New(slog.DiscardHandler)}})
	h := ledger.AdminHandler(tl.Ledger)
	f.Add(uint8(0), []byte(`{"device": "pos-1", "kind": "pos"}`))
	f.Add(uint8(3), []byte(`{"card": "123", "reason": 1}`))
	f.Add(uint8(4), []byte(`{"card": "123", "amount": 100, "source": "x"}`))
	f.Add(uint8(5), []byte(`{"load_id": 1}`))
	f.Add(uint8(7), []byte(`{"rules": "e30="}`))
	f.Add(uint8(8), []byte(`{"x": 1}`))
	f.Add(uint8(9), []byte(`{"device": "pos-1"}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := adminPaths[int(which)%len(adminPaths)]
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("%s: HTTP %d", path, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: answer is not JSON: %q", path, w.Body.Bytes())
		}
	})
}
