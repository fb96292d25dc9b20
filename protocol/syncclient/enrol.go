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
// signed by one of them; with Options.LedgerFingerprint, the announced
// ledger key (which signs the answer) must have that fingerprint, else
// ErrLedgerKeyMismatch and nothing is pinned; with neither, the announced
// key is trusted on first use, unless Options.RequireLedgerPin refuses
// that (ErrNoLedgerPin, before anything is sent: the token is not spent).
// On success the client verifies with the ledger key from then on; the
// caller stores the returned key (EnrolResponse.LedgerKey*) to pin it for
// later runs. Options.TerminalID goes with the request: a ledger that
// finds that PSAM bound to another device enrols the device held
// (EnrolResponse.Held, recorded in the HoldSink).
func (c *Client) Enrol(ctx context.Context, token string) (protocol.EnrolResponse, error) {
	if c.o.LedgerKeys == nil && c.o.LedgerFingerprint == "" && c.o.RequireLedgerPin {
		c.log.Error("enrolment refused: no ledger key fingerprint pinned; configure the one `ledgerd keys` prints")
		return protocol.EnrolResponse{}, fmt.Errorf("syncclient: enrol: %w: the device would trust any ledger that answers", ErrNoLedgerPin)
	}
	pk := c.o.Signer.PublicKey()
	req := protocol.EnrolRequest{
		DeviceID: c.o.DeviceID, Token: token, PublicKey: pk.Key, Alg: pk.Alg,
		Kind: c.o.Kind, Firmware: c.o.Firmware, TerminalID: c.o.TerminalID,
		Site: c.o.Site,
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
	if fp := c.o.LedgerFingerprint; fp != "" && protocol.Fingerprint(resp.LedgerKey) != fp {
		got := protocol.Fingerprint(resp.LedgerKey)
		c.log.Error("ENROLMENT ANSWERED BY ANOTHER LEDGER KEY than the one pinned: refused, nothing pinned. Check the ledger address and sync.ledger_key.",
			"pinned", fp, "answered", got)
		return protocol.EnrolResponse{}, fmt.Errorf("syncclient: enrol: ledger key %s, pinned %s: %w", got, fp, ErrLedgerKeyMismatch)
	}
	if c.o.LedgerKeys == nil {
		c.o.LedgerKeys = protocol.NewKeys(protocol.PublicKey{KeyID: resp.LedgerKeyID, Alg: resp.LedgerAlg, Key: resp.LedgerKey})
	}
	c.log.Info("device enrolled", "ledger_key", resp.LedgerKeyID, "kind", c.o.Kind.String())
	c.heldIs(resp.Held != 0, protocol.PathEnrol)
	return resp, nil
}
