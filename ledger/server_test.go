package ledger_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// TestStoreFailureIsNotUnknownDevice: when the ledger cannot read its
// device registry (database closed under a request at shutdown, I/O
// error), it must answer internal (the device retries), not unknown-device:
// a terminal takes unknown-device as final and stops syncing.
func TestStoreFailureIsNotUnknownDevice(t *testing.T) {
	l, err := ledger.Open(t.TempDir(), ledger.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ledger.NewServer(l)
	if err != nil {
		t.Fatal(err)
	}
	dev := ledgertest.NewDevice(t, "pos-1")
	tok, _, err := l.NewToken("pos-1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Enrol(ledger.EnrolParams{DeviceID: "pos-1", Token: tok, PublicKey: dev.Signer.PublicKey().Key, Alg: protocol.AlgEd25519}); err != nil {
		t.Fatal(err)
	}
	post := func(path string, m protocol.Message) (int, *protocol.Error) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(dev.Seal(t, m))))
		return rec.Code, ledgertest.ErrorOf(rec.Body.Bytes())
	}
	if code, e := post("/v1/status", &protocol.StatusRequest{DeviceID: "pos-1", Have: 1}); code != http.StatusNoContent {
		t.Fatalf("status request with the ledger open: HTTP %d %v", code, e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		path string
		msg  protocol.Message
	}{
		{"/v1/status", &protocol.StatusRequest{DeviceID: "pos-1"}},
		{"/v1/rules", &protocol.RulesRequest{DeviceID: "pos-1"}},
	} {
		code, e := post(m.path, m.msg)
		if code != http.StatusInternalServerError || e == nil || e.Code != protocol.CodeInternal {
			t.Errorf("%s with the database closed: HTTP %d %v, want 500 internal", m.path, code, e)
		}
	}
}
