package syncclient

import (
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
)

// contactEvery bounds how often a contact is written to the State: the
// offline limit is counted in days, a write a round would only wear the
// flash.
const contactEvery = time.Minute

// Revoked reports whether the ledger's last answer about the device
// itself was that it is revoked.
func (c *Client) Revoked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.standing == standingRevoked
}

// contacted notes a verified answer of the ledger (an acknowledgement, a
// status list or rules answer) in the State.
func (c *Client) contacted() {
	now := c.o.Clock.Now()
	c.mu.Lock()
	due := c.contact.IsZero() || now.Sub(c.contact) >= contactEvery || now.Before(c.contact)
	if due {
		c.contact = now
	}
	c.mu.Unlock()
	if !due || c.o.State == nil {
		return
	}
	if err := c.o.State.RecordContact(now); err != nil {
		c.log.Warn("could not record the contact with the ledger", "err", err)
	}
}

// served notes that the ledger served the device (a status list or rules
// answer): a revocation recorded before, in this process or an earlier
// one, is lifted.
func (c *Client) served() {
	c.contacted()
	c.mu.Lock()
	was := c.standing
	c.standing = standingActive
	c.mu.Unlock()
	c.heldIs(false, "")
	if was == standingActive {
		return
	}
	if was == standingRevoked {
		c.log.Info("the ledger serves this device again: the revocation is lifted")
	}
	if c.o.State != nil {
		if err := c.o.State.RecordRevoked(false, c.o.Clock.Now()); err != nil {
			c.log.Warn("could not record that the ledger serves this device", "err", err)
		}
	}
}

// revokedBy notes the ledger's answer that the device is revoked, logging
// it once per revocation.
func (c *Client) revokedBy(path string) {
	c.mu.Lock()
	was := c.standing
	c.standing = standingRevoked
	c.mu.Unlock()
	if was != standingRevoked {
		c.log.Error("THE LEDGER REVOKED THIS DEVICE: it takes no more money; its journal is still uploaded for collection. Call the technician.",
			"answered_by", path)
	}
	if c.o.State != nil {
		if err := c.o.State.RecordRevoked(true, c.o.Clock.Now()); err != nil {
			c.log.Error("could not record the revocation", "err", err)
		}
	}
}

// deviceRefused handles the ledger's refusal of the device itself on
// path. A revocation is recorded (the terminal stops taking money) and
// returned wrapping ErrDeviceRevoked, a hold for the PSAM binding likewise
// wrapping ErrDeviceHeld: not fatal, Run goes on uploading the journal. A
// device the ledger does not know is a FatalError: Run ends.
func (c *Client) deviceRefused(path string, err error) error {
	var pe *protocol.Error
	if !errors.As(err, &pe) || retryable(err) {
		return err
	}
	switch {
	case errors.Is(err, protocol.ErrRevoked):
		c.revokedBy(path)
		return fmt.Errorf("%w: %w", ErrDeviceRevoked, err)
	case errors.Is(err, protocol.ErrPSAMBinding):
		c.heldIs(true, path)
		return fmt.Errorf("%w: %w", ErrDeviceHeld, err)
	case errors.Is(err, protocol.ErrUnknownDevice):
		c.log.Error("the ledger does not know this device (not enrolled, or its key was replaced); sync stopped", "code", pe.Code.String())
		return &FatalError{err}
	}
	return err
}

// holdState is the ledger's hold on the device as this client knows it.
type holdState int

const (
	holdUnknown holdState = iota // nothing answered yet in this process
	holdOff                      // the ledger does not hold the device
	holdOn                       // the ledger holds it (PSAM binding)
)

// Held reports whether the ledger's last answer about its hold was that
// it holds the device (its PSAM is not bound to it).
func (c *Client) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held == holdOn
}

// heldIs notes the ledger's answer about its hold on the device (path
// names the answer that said held; "" for a status or rules answer): the
// HoldSink hears of a change, and of the first answer in this process.
func (c *Client) heldIs(held bool, path string) {
	now := holdOff
	if held {
		now = holdOn
	}
	c.mu.Lock()
	was := c.held
	c.held = now
	c.mu.Unlock()
	if was == now {
		return
	}
	switch {
	case held:
		c.log.Error("THE LEDGER HOLDS THIS DEVICE: its PSAM is not bound to it (moved or swapped); no money until an operator re-binds it (ledgerd device rebind); the journal still uploads",
			"answered_by", path)
	case was == holdOn:
		c.log.Warn("the ledger no longer holds this device: its PSAM was re-bound")
	}
	hs, ok := c.o.State.(HoldSink)
	if !ok {
		return
	}
	if err := hs.RecordLedgerHeld(held, c.o.Clock.Now()); err != nil {
		c.log.Error("could not record the ledger's hold", "held", held, "err", err)
		c.mu.Lock()
		c.held = holdUnknown // recorded at the next answer
		c.mu.Unlock()
	}
}
