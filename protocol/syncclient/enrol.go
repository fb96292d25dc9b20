package syncclient

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// Enrol enrols the device with the ledger using a one-time token: it sends
// the device's public key in a request signed by that key (proof of
// possession) and checks the answer's signature. With Options.LedgerKeys
// set (the ledger key provisioned with the device), the answer must be
// signed by one of them; without, the announced ledger key is trusted on
// first use. On success the client verifies with the ledger key from then
// on; the caller stores the returned key (EnrolResponse.LedgerKey*) to pin
// it for later runs.
func (c *Client) Enrol(ctx context.Context, token string) (protocol.EnrolResponse, error) {
	pk := c.o.Signer.PublicKey()
	req := protocol.EnrolRequest{
		DeviceID: c.o.DeviceID, Token: token, PublicKey: pk.Key, Alg: pk.Alg,
		Kind: c.o.Kind, Firmware: c.o.Firmware,
	}
	raw, err := c.seal(&req)
	if err != nil {
		return protocol.EnrolResponse{}, fmt.Errorf("syncclient: sign enrol request: %w", err)
	}
	a, err := c.post(ctx, "v1/enrol", raw, protocol.MaxEnrolSize+protocol.MaxEnvelopeOverhead)
	if err != nil {
		c.log.Error("enrolment refused", "err", err)
		return protocol.EnrolResponse{}, err
	}
	if a.status != 200 {
		return protocol.EnrolResponse{}, fmt.Errorf("syncclient: enrol: HTTP %d without an answer: %w", a.status, ErrResponse)
	}
	resp, err := protocol.OpenEnrolResponse(c.o.LedgerKeys, a.body, c.o.DeviceID)
	if err != nil {
		c.log.Error("enrolment answer refused: not signed by the expected ledger key", "err", err)
		return protocol.EnrolResponse{}, fmt.Errorf("syncclient: enrol answer: %w", err)
	}
	if c.o.LedgerKeys == nil {
		c.o.LedgerKeys = protocol.NewKeys(protocol.PublicKey{KeyID: resp.LedgerKeyID, Alg: resp.LedgerAlg, Key: resp.LedgerKey})
	}
	c.log.Info("device enrolled", "ledger_key", resp.LedgerKeyID, "kind", c.o.Kind.String())
	return resp, nil
}
