package syncclient

import (
	"bytes"
	"context"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// Service asks the ledger for a self-service or desk trade (issue 15,
// docs/protocol.md §8.4): m with the device id set. The ledger answers the
// same request id with the same answer, so a caller retries an answer lost
// on the way with the same m. A refusal is a *protocol.Error (errors.Is
// with protocol.ErrPINInvalid, ErrIDInvalid, ...; Error.TriesLeft and
// Error.Until say more); a held device gets ErrDeviceHeld. The PIN and the
// ID number travel in the signed request and are never logged here.
func (c *Client) Service(ctx context.Context, m protocol.ServiceRequest) (protocol.ServiceAnswer, error) {
	if c.o.LedgerKeys == nil {
		return protocol.ServiceAnswer{}, ErrNotEnrolled
	}
	m.DeviceID = c.o.DeviceID
	if m.Proof != nil {
		p := *m.Proof // the card's proof names this device too
		p.DeviceID = c.o.DeviceID
		m.Proof = &p
	}
	raw, err := c.seal(&m)
	if err != nil {
		return protocol.ServiceAnswer{}, fmt.Errorf("syncclient: sign %s request: %w", m.Trade, err)
	}
	body, err := c.exchange(ctx, protocol.PathServices[1:], raw, protocol.MaxServiceAnswerSize)
	if err != nil {
		return protocol.ServiceAnswer{}, err
	}
	a, _, err := protocol.Open[protocol.ServiceAnswer](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's service answer refused: signature or format", "trade", m.Trade.String(), "err", err)
		return protocol.ServiceAnswer{}, fmt.Errorf("syncclient: %s answer: %w", m.Trade, err)
	}
	if !bytes.Equal(a.RequestID, m.RequestID) || a.Trade != m.Trade {
		return protocol.ServiceAnswer{}, fmt.Errorf("syncclient: %s answer for request %x (%s), asked %x: %w", m.Trade, a.RequestID, a.Trade, m.RequestID, ErrResponse)
	}
	for _, w := range a.Writes {
		if m.CardNo != "" && w.CardNo != m.CardNo {
			return protocol.ServiceAnswer{}, fmt.Errorf("syncclient: %s answer: a write %s for card %s, asked for %s: %w", m.Trade, w.WriteID, w.CardNo, m.CardNo, ErrResponse)
		}
	}
	return a, nil
}

// PendingWrites returns the card writes the ledger holds pending for
// cardNo (what a device completes — 补写 — when the card is present);
// operator names the desk's operator ("" elsewhere).
func (c *Client) PendingWrites(ctx context.Context, cardNo, operator string) ([]protocol.CardWrite, error) {
	if c.o.LedgerKeys == nil {
		return nil, ErrNotEnrolled
	}
	raw, err := c.seal(&protocol.PendingWritesRequest{DeviceID: c.o.DeviceID, CardNo: cardNo, Operator: operator})
	if err != nil {
		return nil, fmt.Errorf("syncclient: sign pending writes request: %w", err)
	}
	body, err := c.exchange(ctx, protocol.PathCardWritesPending[1:], raw, protocol.MaxWritesSize)
	if err != nil {
		return nil, err
	}
	p, _, err := protocol.Open[protocol.PendingWrites](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("syncclient: pending writes answer: %w", err)
	}
	if p.CardNo != cardNo {
		return nil, fmt.Errorf("syncclient: pending writes of card %s, asked %s: %w", p.CardNo, cardNo, ErrResponse)
	}
	for _, w := range p.Writes {
		if w.CardNo != cardNo {
			return nil, fmt.Errorf("syncclient: pending write %s of card %s, asked %s: %w", w.WriteID, w.CardNo, cardNo, ErrResponse)
		}
	}
	return p.Writes, nil
}

// ReportWrite reports what became of a card write (m with the device id
// set): the ledger applies a written one only when the read-back values
// match (else protocol.ErrWriteMismatch), and answers a report again the
// same.
func (c *Client) ReportWrite(ctx context.Context, m protocol.CardWriteReport) (protocol.CardWriteAck, error) {
	if c.o.LedgerKeys == nil {
		return protocol.CardWriteAck{}, ErrNotEnrolled
	}
	m.DeviceID = c.o.DeviceID
	raw, err := c.seal(&m)
	if err != nil {
		return protocol.CardWriteAck{}, fmt.Errorf("syncclient: sign card write report: %w", err)
	}
	body, err := c.exchange(ctx, protocol.PathCardWriteReport[1:], raw, protocol.MaxWriteRequestSize)
	if err != nil {
		return protocol.CardWriteAck{}, err
	}
	a, _, err := protocol.Open[protocol.CardWriteAck](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		return protocol.CardWriteAck{}, fmt.Errorf("syncclient: card write report answer: %w", err)
	}
	if a.WriteID != m.WriteID {
		return protocol.CardWriteAck{}, fmt.Errorf("syncclient: card write ack for %s, reported %s: %w", a.WriteID, m.WriteID, ErrResponse)
	}
	return a, nil
}

// WriteMAC asks the ledger's key service for the MAC of a pending card
// write's command (m with the device id set). ok is false when the ledger
// has no MAC source (the write cannot be done here).
func (c *Client) WriteMAC(ctx context.Context, m protocol.CardWriteMACRequest) (mac [4]byte, ok bool, err error) {
	if c.o.LedgerKeys == nil {
		return mac, false, ErrNotEnrolled
	}
	m.DeviceID = c.o.DeviceID
	raw, err := c.seal(&m)
	if err != nil {
		return mac, false, fmt.Errorf("syncclient: sign card write MAC request: %w", err)
	}
	body, err := c.exchange(ctx, protocol.PathCardWriteMAC[1:], raw, protocol.MaxWriteRequestSize)
	if err != nil {
		return mac, false, err
	}
	a, _, err := protocol.Open[protocol.CardWriteMAC](c.o.LedgerKeys, body, c.o.DeviceID)
	if err != nil {
		return mac, false, fmt.Errorf("syncclient: card write MAC answer: %w", err)
	}
	if a.WriteID != m.WriteID {
		return mac, false, fmt.Errorf("syncclient: card write MAC for %s, asked %s: %w", a.WriteID, m.WriteID, ErrResponse)
	}
	if a.MAC == nil {
		return mac, false, nil
	}
	if len(a.MAC) != 4 {
		return mac, false, fmt.Errorf("syncclient: card write MAC of %d bytes: %w", len(a.MAC), ErrResponse)
	}
	return [4]byte(a.MAC), true, nil
}
