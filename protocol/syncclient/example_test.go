package syncclient_test

import (
	"context"
	"log"
	"net/url"
	"os"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

// A terminal wires the client to its store and runs it for the life of the
// daemon: TLS pinned to the campus CA, an explicit proxy, the ledger key
// pinned at enrolment.
func Example() {
	// The daemon passes (*offline.Store).SyncSource() here; this package
	// imports nothing of ours but protocol.
	var src interface {
		syncclient.Journal
		syncclient.StatusSink
		syncclient.RulesSink
	}
	const deviceID = "pos-canteen-1-01"
	caPEM, err := os.ReadFile("/etc/yktd/ledger-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	proxy, _ := url.Parse("http://10.0.0.1:3128")
	hc, err := syncclient.NewHTTPClient("https://ledger.campus.example/", syncclient.TransportOptions{CAPEM: caPEM, Proxy: proxy})
	if err != nil {
		log.Fatal(err)
	}
	var devicePriv, ledgerPub []byte // from the device's key files
	signer, err := protocol.NewSigner(deviceID, protocol.AlgEd25519, devicePriv)
	if err != nil {
		log.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{
		Ledger: "https://ledger.campus.example/", DeviceID: deviceID, Signer: signer, HTTP: hc,
		LedgerKeys: protocol.NewKeys(protocol.PublicKey{KeyID: "ledger-1", Alg: protocol.AlgEd25519, Key: ledgerPub}),
		Journal:    src, Status: src, Rules: src,
		BatchSize: 500, Interval: 30 * time.Second, BackoffMax: 10 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(context.Background()); syncclient.IsFatal(err) {
		log.Printf("sync stopped, call the operator: %v", err)
	}
}
