package syncclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// PullResult says what a download did.
type PullResult struct {
	Applied bool   // something new was applied
	Kind    string // "snapshot", "delta" or "rules"; empty when nothing came
	From    uint64 // version held before
	Version uint64 // version held after
}

// PullStatus asks the ledger for the status list from the version held
// and applies the answer only after the ledger's signature verified and
// its version is newer than the one held (a snapshot as new as the one
// held is applied again: the store checks it against the signed digest).
// A refused answer changes nothing; its error says why. A verified delta
// the store refuses (its result is not the signed digest, or it does not
// start at the version held: the list held diverged from the ledger's, as
// after the ledger was restored from a backup) is followed at once by a
// request for a whole snapshot, so that the device does not ask for the
// same unusable delta for ever.
func (c *Client) PullStatus(ctx context.Context) (PullResult, error) {
	var res PullResult
	if c.o.Status == nil {
		return res, nil
	}
	if c.o.LedgerKeys == nil {
		return res, ErrNotEnrolled
	}
	have, err := c.o.Status.StatusVersion()
	if err != nil {
		return res, fmt.Errorf("syncclient: status version: %w", err)
	}
	res, deltaRefused, err := c.pullStatus(ctx, have, have)
	if deltaRefused {
		c.log.Warn("status list held does not match the ledger's; asking for a whole snapshot", "have", have, "err", err)
		return c.pullSnapshot(ctx, have, err)
	}
	return res, err
}

// pullSnapshot asks for a whole snapshot (Have 0) after the delta refused
// with derr; a snapshot older than have is still refused.
func (c *Client) pullSnapshot(ctx context.Context, have uint64, derr error) (PullResult, error) {
	res, _, err := c.pullStatus(ctx, have, 0)
	if err != nil {
		return res, errors.Join(derr, err)
	}
	if !res.Applied {
		return res, derr
	}
	return res, nil
}

// pullStatus sends a StatusRequest with Have = ask and applies the answer
// to the list held at version have. deltaRefused reports a verified delta
// that the store refused.
func (c *Client) pullStatus(ctx context.Context, have, ask uint64) (res PullResult, deltaRefused bool, err error) {
	res.From, res.Version = have, have
	raw, err := c.seal(&protocol.StatusRequest{DeviceID: c.o.DeviceID, Have: ask})
	if err != nil {
		return res, false, fmt.Errorf("syncclient: sign status request: %w", err)
	}
	a, err := c.post(ctx, "v1/status", raw, protocol.MaxStatusSize+protocol.MaxEnvelopeOverhead)
	if err != nil {
		return res, false, c.deviceRefused(protocol.PathStatus, err)
	}
	if a.status == 204 {
		// Unsigned, but the ledger's answer over the pinned transport:
		// the list held is current.
		c.served()
		return res, false, nil
	}
	snap, delta, _, err := protocol.OpenStatus(c.o.LedgerKeys, a.body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's status list refused: signature or format", "err", err)
		return res, false, fmt.Errorf("syncclient: status answer: %w", err)
	}
	c.served()
	switch {
	case snap != nil:
		res.Kind = "snapshot"
		if snap.Version < have {
			c.log.Warn("ledger sent an older status list; refused", "have", have, "offered", snap.Version)
			return res, false, fmt.Errorf("syncclient: status snapshot %d, have %d: %w", snap.Version, have, ErrStaleDownload)
		}
		if err := c.o.Status.ApplyStatusSnapshot(*snap); err != nil {
			c.log.Warn("status snapshot refused by the store", "version", snap.Version, "err", err)
			return res, false, fmt.Errorf("syncclient: apply status snapshot %d: %w", snap.Version, err)
		}
		res.Version = snap.Version
		c.log.Info("status list replaced", "version", snap.Version, "entries", len(snap.Entries), "was", have)
	default:
		res.Kind = "delta"
		if delta.To <= have {
			c.log.Warn("ledger sent an old status delta; refused", "have", have, "from", delta.From, "to", delta.To)
			return res, false, fmt.Errorf("syncclient: status delta %d→%d, have %d: %w", delta.From, delta.To, have, ErrStaleDownload)
		}
		if err := c.o.Status.ApplyStatusDelta(*delta); err != nil {
			c.log.Warn("status delta refused by the store", "from", delta.From, "to", delta.To, "err", err)
			return res, ask != 0, fmt.Errorf("syncclient: apply status delta %d→%d: %w", delta.From, delta.To, err)
		}
		res.Version = delta.To
		c.log.Info("status list updated", "from", delta.From, "to", delta.To, "changes", len(delta.Changes))
	}
	res.Applied = true
	return res, false, nil
}

// PullRules asks the ledger for the rules and stores them only after the
// ledger's signature verified and their version is newer than the one
// held. HTTP 204 means the rules held are current.
func (c *Client) PullRules(ctx context.Context) (PullResult, error) {
	res := PullResult{}
	if c.o.Rules == nil {
		return res, nil
	}
	if c.o.LedgerKeys == nil {
		return res, ErrNotEnrolled
	}
	have, err := c.o.Rules.RulesVersion()
	if err != nil {
		return res, fmt.Errorf("syncclient: rules version: %w", err)
	}
	res.From, res.Version = have, have
	raw, err := c.seal(&protocol.RulesRequest{DeviceID: c.o.DeviceID, Have: have})
	if err != nil {
		return res, fmt.Errorf("syncclient: sign rules request: %w", err)
	}
	a, err := c.post(ctx, "v1/rules", raw, protocol.MaxRulesSize+protocol.MaxEnvelopeOverhead)
	if err != nil {
		return res, c.deviceRefused(protocol.PathRules, err)
	}
	if a.status == 204 {
		c.served()
		return res, nil
	}
	rules, _, err := protocol.Open[protocol.Rules](c.o.LedgerKeys, a.body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's rules refused: signature or format", "err", err)
		return res, fmt.Errorf("syncclient: rules answer: %w", err)
	}
	c.served()
	res.Kind = "rules"
	if rules.Version <= have {
		c.log.Warn("ledger sent rules not newer than those held; refused", "have", have, "offered", rules.Version)
		return res, fmt.Errorf("syncclient: rules %d, have %d: %w", rules.Version, have, ErrStaleDownload)
	}
	if err := c.o.Rules.PutRules(rules.Version, a.body, rules); err != nil {
		c.log.Warn("rules refused by the store", "version", rules.Version, "err", err)
		return res, fmt.Errorf("syncclient: store rules %d: %w", rules.Version, err)
	}
	res.Applied, res.Version = true, rules.Version
	c.log.Info("rules applied", "version", rules.Version, "was", have)
	return res, nil
}
