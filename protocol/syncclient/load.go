package syncclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// ErrLoadMismatch: a verified load answer that does not answer the
// request sent (another card, load, amount or transaction time). The kiosk
// must not send CREDIT FOR LOAD with it.
var ErrLoadMismatch = errors.New("syncclient: load answer does not match the request")

// The load exchanges (圈存) are the kiosk's, with a card in the field:
// Pending shows what waits, InitLoad turns the card's INITIALIZE FOR LOAD
// answer into MAC2, ConfirmLoad reports the card's TAC. They are not
// retried here (the card is waiting); the ledger answers InitLoad and
// ConfirmLoad idempotently, so the caller may send the same message again
// after a network failure. A refusal by the ledger wraps its
// *protocol.Error and matches protocol's sentinels (protocol.ErrMACInvalid,
// protocol.ErrNoPendingLoad, protocol.ErrMalformed, ...).
//
// A kiosk drives epurse.Load with an epurse.LoadHost built on InitLoad
// (this package may not import reader/epurse):
//
//	func (h kioskHost) AuthorizeLoad(ctx context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
//		resp, err := h.c.InitLoad(ctx, protocol.LoadInit{CardNo: h.cardNo,
//			CardSerial: a.CardSerial[:], TerminalID: a.TermID[:], OnlineCounter: a.OnlineCounter,
//			BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount), KeyIndex: keyIndex,
//			KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm), Random: a.Random[:],
//			MAC1: a.MAC1[:], TxTime: a.Time[:]})
//		if errors.Is(err, protocol.ErrMACInvalid) {
//			return [4]byte{}, fmt.Errorf("%w: %w", epurse.ErrMACInvalid, err) // LoadHost's contract
//		}
//		if err != nil {
//			return [4]byte{}, err
//		}
//		h.last = resp // LoadID for ConfirmLoad, kept with the load's intent
//		return [4]byte(resp.MAC2), nil
//	}
//
// then ConfirmLoad with LoadOutcome.TAC and BalanceAfter once the card
// answered CREDIT FOR LOAD (or once RecoverLoad found it credited).

// Pending asks the ledger which loads wait for the card cardNo.
func (c *Client) Pending(ctx context.Context, cardNo string) (protocol.Pending, error) {
	if c.o.LedgerKeys == nil {
		return protocol.Pending{}, ErrNotEnrolled
	}
	raw, err := c.seal(&protocol.PendingRequest{DeviceID: c.o.DeviceID, CardNo: cardNo})
	if err != nil {
		return protocol.Pending{}, fmt.Errorf("syncclient: sign pending request: %w", err)
	}
	body, err := c.exchange(ctx, "v1/pending", raw, protocol.MaxPendingSize)
	if err != nil {
		return protocol.Pending{}, err
	}
	p, _, err := protocol.Open[protocol.Pending](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's pending loads refused: signature or format", "err", err)
		return protocol.Pending{}, fmt.Errorf("syncclient: pending answer: %w", err)
	}
	if p.CardNo != cardNo {
		return protocol.Pending{}, fmt.Errorf("syncclient: pending answer for card %q, asked %q: %w", p.CardNo, cardNo, ErrLoadMismatch)
	}
	return p, nil
}

// InitLoad sends the card's INITIALIZE FOR LOAD answer (m; its DeviceID
// may be left empty: it is the client's) and returns the ledger's MAC2.
// With m.TxTime (the time CREDIT FOR LOAD will carry) the answer must
// carry the same time; without, CREDIT FOR LOAD must carry the answer's
// TxTime. An answer for another amount or time is ErrLoadMismatch.
func (c *Client) InitLoad(ctx context.Context, m protocol.LoadInit) (protocol.LoadInitResponse, error) {
	if c.o.LedgerKeys == nil {
		return protocol.LoadInitResponse{}, ErrNotEnrolled
	}
	if m.DeviceID == "" {
		m.DeviceID = c.o.DeviceID
	}
	raw, err := c.seal(&m)
	if err != nil {
		return protocol.LoadInitResponse{}, fmt.Errorf("syncclient: sign load init: %w", err)
	}
	body, err := c.exchange(ctx, "v1/loads/init", raw, protocol.MaxLoadSize)
	if err != nil {
		return protocol.LoadInitResponse{}, err
	}
	resp, _, err := protocol.Open[protocol.LoadInitResponse](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's load authorisation refused: signature or format", "err", err)
		return protocol.LoadInitResponse{}, fmt.Errorf("syncclient: load init answer: %w", err)
	}
	switch {
	case resp.Amount != m.Amount:
		return protocol.LoadInitResponse{}, fmt.Errorf("syncclient: load init answer for %d fen, asked %d: %w", resp.Amount, m.Amount, ErrLoadMismatch)
	case m.TxTime != nil && !bytes.Equal(resp.TxTime, m.TxTime):
		// A ledger that ignored the kiosk's time: its MAC2 would not
		// verify on the card with the time the kiosk sends.
		return protocol.LoadInitResponse{}, fmt.Errorf("syncclient: load init answer for time %X, sent %X: %w", resp.TxTime, m.TxTime, ErrLoadMismatch)
	}
	c.log.Debug("load authorised", "load", resp.LoadID, "amount", resp.Amount)
	return resp, nil
}

// ConfirmLoad reports the card's TAC after CREDIT FOR LOAD (m; its
// DeviceID may be left empty) and returns the load's state at the ledger
// (protocol.LoadCompleted when the TAC verified).
func (c *Client) ConfirmLoad(ctx context.Context, m protocol.LoadConfirm) (protocol.LoadConfirmResponse, error) {
	if c.o.LedgerKeys == nil {
		return protocol.LoadConfirmResponse{}, ErrNotEnrolled
	}
	if m.DeviceID == "" {
		m.DeviceID = c.o.DeviceID
	}
	raw, err := c.seal(&m)
	if err != nil {
		return protocol.LoadConfirmResponse{}, fmt.Errorf("syncclient: sign load confirm: %w", err)
	}
	body, err := c.exchange(ctx, "v1/loads/confirm", raw, protocol.MaxLoadSize)
	if err != nil {
		return protocol.LoadConfirmResponse{}, err
	}
	resp, _, err := protocol.Open[protocol.LoadConfirmResponse](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's load confirmation refused: signature or format", "err", err)
		return protocol.LoadConfirmResponse{}, fmt.Errorf("syncclient: load confirm answer: %w", err)
	}
	if resp.LoadID != m.LoadID {
		return protocol.LoadConfirmResponse{}, fmt.Errorf("syncclient: load confirm answer for load %q, sent %q: %w", resp.LoadID, m.LoadID, ErrLoadMismatch)
	}
	c.log.Debug("load confirmed", "load", resp.LoadID, "state", resp.State.String())
	return resp, nil
}

// exchange posts a signed request and returns the body of a 200 answer of
// at most limit payload bytes.
func (c *Client) exchange(ctx context.Context, path string, raw []byte, limit int) ([]byte, error) {
	a, err := c.post(ctx, path, raw, limit+protocol.MaxEnvelopeOverhead)
	if err != nil {
		return nil, c.deviceRefused("/"+path, err)
	}
	if a.status != 200 {
		return nil, fmt.Errorf("syncclient: %s: HTTP %d without an answer: %w", path, a.status, ErrResponse)
	}
	return a.body, nil
}

// LoadStatus asks what became of a load this device authorised and could
// not settle from the card (protocol.LoadStatusRequest): LoadCompleted
// (credited in this device's session), LoadCancelled (nothing credited)
// or LoadInitiated (unknown yet).
func (c *Client) LoadStatus(ctx context.Context, loadID, cardNo string) (protocol.LoadState, error) {
	if c.o.LedgerKeys == nil {
		return 0, ErrNotEnrolled
	}
	raw, err := c.seal(&protocol.LoadStatusRequest{DeviceID: c.o.DeviceID, LoadID: loadID, CardNo: cardNo})
	if err != nil {
		return 0, fmt.Errorf("syncclient: sign load status: %w", err)
	}
	body, err := c.exchange(ctx, protocol.PathLoadStatus[1:], raw, protocol.MaxLoadSize)
	if err != nil {
		return 0, err
	}
	resp, _, err := protocol.Open[protocol.LoadConfirmResponse](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's load status refused: signature or format", "err", err)
		return 0, fmt.Errorf("syncclient: load status answer: %w", err)
	}
	if resp.LoadID != loadID {
		return 0, fmt.Errorf("syncclient: load status answer for load %q, asked %q: %w", resp.LoadID, loadID, ErrLoadMismatch)
	}
	return resp.State, nil
}

// ProbeLoad reports the online counter of a card whose Claims said
// Unsettled: m is the card's INITIALIZE FOR LOAD answer for a probe
// amount (its MAC1 proves the counter; m.DeviceID may be left empty).
// The ledger settles the card's unsettled loads from it and answers the
// card's claims afterwards; it gives no MAC2, and the device sends no
// CREDIT FOR LOAD.
func (c *Client) ProbeLoad(ctx context.Context, m protocol.LoadInit) (protocol.Claims, error) {
	if c.o.LedgerKeys == nil {
		return protocol.Claims{}, ErrNotEnrolled
	}
	if m.DeviceID == "" {
		m.DeviceID = c.o.DeviceID
	}
	raw, err := c.seal(&m)
	if err != nil {
		return protocol.Claims{}, fmt.Errorf("syncclient: sign load probe: %w", err)
	}
	body, err := c.exchange(ctx, protocol.PathLoadProbe[1:], raw, protocol.MaxClaimsSize)
	if err != nil {
		return protocol.Claims{}, err
	}
	cl, _, err := protocol.Open[protocol.Claims](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's probe answer refused: signature or format", "err", err)
		return protocol.Claims{}, fmt.Errorf("syncclient: load probe answer: %w", err)
	}
	if cl.CardNo != m.CardNo {
		return protocol.Claims{}, fmt.Errorf("syncclient: probe answer for card %q, sent %q: %w", cl.CardNo, m.CardNo, ErrLoadMismatch)
	}
	return cl, nil
}
