package ledger_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

var servicePaths = []string{protocol.PathServices, protocol.PathCardWritesPending, protocol.PathCardWriteReport, protocol.PathCardWriteMAC}

// FuzzServiceEndpoints posts hostile bodies, and signed requests a fuzzer
// mutates, to the service and card-write endpoints of a real ledger: no
// panic, no 5xx, every refusal a decodable Error.
func FuzzServiceEndpoints(f *testing.F) {
	tl := ledgertest.Start(f, ledgertest.Options{Ledger: ledger.Options{Logger: slog.New(slog.DiscardHandler)}})
	if _, err := tl.AddAccount(ledger.AccountParams{ID: svcAcct, Card: svcCard, PIN: svcPIN, NationalID: svcID}); err != nil {
		f.Fatal(err)
	}
	k := tl.Enrol(f, "kiosk-1", protocol.DeviceKiosk)
	srv := tl.Server()
	id := bytes.Repeat([]byte{1}, protocol.RequestIDSize)
	f.Add(uint8(0), k.Seal(f, &protocol.ServiceRequest{DeviceID: k.ID, RequestID: id, Trade: protocol.TradeSetLimit, CardNo: svcCard, PIN: sp(svcPIN), TxLimit: 100}))
	f.Add(uint8(0), k.Seal(f, &protocol.ServiceRequest{DeviceID: k.ID, RequestID: id, Trade: protocol.TradeUnfreeze, CardNo: svcCard, PIN: sp(svcPIN), NationalID: protocol.SecretID(svcID)}))
	f.Add(uint8(1), k.Seal(f, &protocol.PendingWritesRequest{DeviceID: k.ID, CardNo: svcCard}))
	f.Add(uint8(2), k.Seal(f, &protocol.CardWriteReport{DeviceID: k.ID, WriteID: "W-1", CardNo: svcCard, Outcome: protocol.OutcomeWritten, TxLimit: 100}))
	f.Add(uint8(3), k.Seal(f, &protocol.CardWriteMACRequest{DeviceID: k.ID, WriteID: "W-1", CardNo: svcCard, CardSerial: make([]byte, 8),
		Challenge: make([]byte, 4), Command: []byte{4, 0xD6, 0x92, 0, 7, 0, 0, 100}}))
	f.Add(uint8(1), []byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := servicePaths[int(which)%len(servicePaths)]
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
