package syncclient

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// Claims asks the ledger what the card's account holds for loading (领取)
// and what a load would be refused with (Claims.Refusal). cardBalance is
// the purse's balance as read (0 when not read): Claimable respects the
// card's purse limit. Like the load exchanges it is not retried here: a
// POS calls it under its own short deadline (ctx) and sells on timeout.
func (c *Client) Claims(ctx context.Context, cardNo string, cardBalance int64) (protocol.Claims, error) {
	if c.o.LedgerKeys == nil {
		return protocol.Claims{}, ErrNotEnrolled
	}
	raw, err := c.seal(&protocol.ClaimRequest{DeviceID: c.o.DeviceID, CardNo: cardNo, CardBalance: cardBalance})
	if err != nil {
		return protocol.Claims{}, fmt.Errorf("syncclient: sign claim request: %w", err)
	}
	body, err := c.exchange(ctx, "v1/claims", raw, protocol.MaxClaimsSize)
	if err != nil {
		return protocol.Claims{}, err
	}
	cl, _, err := protocol.Open[protocol.Claims](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's claims refused: signature or format", "err", err)
		return protocol.Claims{}, fmt.Errorf("syncclient: claims answer: %w", err)
	}
	if cl.CardNo != cardNo {
		return protocol.Claims{}, fmt.Errorf("syncclient: claims answer for card %q, asked %q: %w", cl.CardNo, cardNo, ErrLoadMismatch)
	}
	return cl, nil
}

// Transfer asks the ledger for a 银校转账 into the card's account,
// authorised by the holder's PIN (m.PIN; m.DeviceID may be left empty).
// m.RequestID must be fresh per transfer and the same on a retry: the
// ledger answers a retry the same and moves the money once. The PIN goes
// only into the signed request; nothing here logs or keeps it.
// protocol.ErrBankUnavailable (retryable) and protocol.ErrRateLimited
// may be retried with the same m.
func (c *Client) Transfer(ctx context.Context, m protocol.TransferRequest) (protocol.TransferResponse, error) {
	if c.o.LedgerKeys == nil {
		return protocol.TransferResponse{}, ErrNotEnrolled
	}
	m.DeviceID = c.o.DeviceID
	raw, err := c.seal(&m)
	if err != nil {
		return protocol.TransferResponse{}, fmt.Errorf("syncclient: sign transfer request: %w", err)
	}
	body, err := c.exchange(ctx, "v1/transfers", raw, protocol.MaxTransferSize)
	if err != nil {
		return protocol.TransferResponse{}, err
	}
	resp, _, err := protocol.Open[protocol.TransferResponse](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's transfer answer refused: signature or format", "err", err)
		return protocol.TransferResponse{}, fmt.Errorf("syncclient: transfer answer: %w", err)
	}
	if resp.Amount != m.Amount {
		return protocol.TransferResponse{}, fmt.Errorf("syncclient: transfer answer of %d, asked %d: %w", resp.Amount, m.Amount, ErrLoadMismatch)
	}
	return resp, nil
}
