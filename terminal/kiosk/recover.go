package kiosk

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/terminal/cardread"
)

// Startup prepares the kiosk after a start: it logs the load intents a
// previous run left, marks uncertain those still open (CREDIT FOR LOAD
// may have been sent before the stop), and confirms with the ledger the
// credited ones (a failure to reach it is logged: the next card or
// Confirm tries again). Each uncertain load is resolved when its card
// returns.
func (k *Kiosk) Startup(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.engine.Startup(ctx); err != nil {
		return fmt.Errorf("kiosk: %w", err)
	}
	return nil
}

// Confirm reports to the ledger every credited load it has not confirmed
// yet (the daemon calls it after the ledger was unreachable). It returns
// a store failure; an unreachable ledger is logged and tried again later.
func (k *Kiosk) Confirm(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.engine.Confirm(ctx); err != nil {
		return fmt.Errorf("kiosk: confirm: %w", err)
	}
	return nil
}

// resolveCard settles the load intents this kiosk holds for the card in
// the field (load.Engine.Resolve). done is set when the tap ends with r:
// a torn load found credited (shown as such), a card that left, or a load
// the card cannot settle. A voided load is claimed again by the tap (the
// ledger re-authorises the same money at the same counter).
func (k *Kiosk) resolveCard(ctx context.Context, card reader.Card, info *cardread.Info) (r Result, done bool, err error) {
	lr, done, err := k.engine.Resolve(ctx, card, info)
	return resultOf(lr), done, err
}
