package pos

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/policy"
)

// Ledger is the POS's online link to the ledger for the claim before the
// sale (领取 at the POS, DESIGN.md 3.3); *syncclient.Client implements
// it. Claims is asked under pos.claim_timeout; InitLoad and ConfirmLoad
// are bounded by it too, each.
type Ledger interface {
	load.Ledger
}

// claimSAM is the POS's PSAM with the system PIN source the claim needs.
type claimSAM struct {
	epurse.SAM
	epurse.SystemPINSource
}

// noSystemPIN is the source of a POS whose PSAM derives no system PIN:
// the POS never claims, but can still settle load intents it holds.
type noSystemPIN struct{}

func (noSystemPIN) SystemPIN(context.Context, epurse.SystemPINRequest) ([]byte, error) {
	return nil, fmt.Errorf("pos: the PSAM derives no system PIN: %w", epurse.ErrNoSystemPIN)
}

// newEngine builds the claim engine of the POS: always (Startup marks the
// open load intents uncertain, a tap settles them), claiming only with a
// ledger, pos.claim_loads and a system PIN source (p.claiming).
func (p *POS) newEngine(opts Options, cfg config.POS) error {
	pin := opts.SystemPIN
	if pin == nil {
		pin, _ = opts.SAM.(epurse.SystemPINSource)
	}
	p.claiming = opts.Ledger != nil && cfg.Claims() && pin != nil
	p.writes = opts.Writes
	if opts.Ledger != nil && cfg.Claims() && pin == nil {
		p.log.Warn("pos: claims before the sale are off: the PSAM derives no system PIN")
	}
	if pin == nil {
		pin = noSystemPIN{}
	}
	ls, ok := opts.Store.(load.Store)
	if !ok {
		return errors.New("pos: new: the store keeps no load intents")
	}
	var ledger load.Ledger
	if opts.Ledger != nil {
		ledger = opts.Ledger
	}
	e, err := load.New(load.Options{Store: ls, Ledger: ledger, SAM: claimSAM{SAM: opts.SAM, SystemPINSource: pin},
		Show: p.show, Now: p.now, Location: p.loc, LedgerTimeout: cfg.ClaimTimeout.D(),
		ClaimsTimeout: cfg.ClaimTimeout.D(), Logger: p.log})
	if err != nil {
		return fmt.Errorf("pos: new: %w", err)
	}
	p.engine = e
	return nil
}

// claimed is what the claim before the sale loaded.
type claimed struct {
	amount int64
	loadID string
}

// claimFirst runs before the sale: it settles this POS's torn load
// intents of the card, then, when the POS claims, asks the ledger (under
// the claim timeout) what the card may claim and loads it with the system
// PIN, showing what it loaded. info.Balance is then the card's balance.
// stop ends the tap with r (the card left during a load, the store
// failed); otherwise the sale goes on, whatever the ledger said. err is a
// terminal fault to report (store, SAM).
func (p *POS) claimFirst(ctx context.Context, card reader.Card, info *cardread.Info) (got claimed, r Result, stop bool, err error) {
	lr, done, err := p.engine.Resolve(ctx, card, info)
	if err != nil {
		return got, refused(info.CardNo, CodeStoreFault), true, err
	}
	if done {
		switch lr.Outcome {
		case load.Loaded:
			p.show(ctx, lr.Message) // an earlier load of this POS went through
			got = claimed{amount: lr.Amount, loadID: lr.LoadID}
		case load.TapAgain:
			return got, p.loadTapAgain(info, lr), true, nil
		default: // left for the service desk: the POS sells, claims nothing for the card
			p.log.Warn("pos: a load of this card cannot be settled here: no claim", "card", info.CardNo, "load", lr.LoadID)
			return got, Result{}, false, nil
		}
	}
	if !p.claiming || !p.mayClaim(ctx, info) {
		return got, Result{}, false, nil
	}
	lr, reclaimed, err := p.engine.Reclaim(ctx, card, *info)
	if !reclaimed && err == nil {
		c, aerr := p.engine.Ask(ctx, *info)
		p.ledgerAnswered(aerr)
		if aerr != nil {
			return got, Result{}, false, nil
		}
		c = p.engine.Settle(ctx, card, *info, c) // a load torn at another device: settled from the card's counter
		if c.Refusal != 0 || c.Claimable <= 0 {
			p.log.Debug("pos: nothing to claim", "card", info.CardNo, "loadable", c.Loadable, "refusal", c.Refusal.String())
			return got, Result{}, false, nil
		}
		lr, err = p.engine.ClaimWith(ctx, card, *info, c, 0)
	}
	switch {
	case lr.Outcome == load.Loaded:
		info.Balance = lr.Balance
		got = claimed{amount: got.amount + lr.Amount, loadID: lr.LoadID}
		p.log.Info("pos: claimed before the sale", "card", info.CardNo, "amount", lr.Amount, "balance", lr.Balance, "load", lr.LoadID)
	case lr.Outcome == load.TapAgain:
		return got, p.loadTapAgain(info, lr), true, err
	case lr.Code == load.CodeStoreFault || lr.Code == load.CodeStorageFull:
		return got, refused(info.CardNo, policy.Code(lr.Code)), true, err
	case lr.Code == load.CodeLedgerOffline:
		p.ledgerAnswered(errors.New("pos: the ledger did not answer the load's authorisation"))
	default:
		p.log.Info("pos: claim before the sale refused: selling", "card", info.CardNo, "code", string(lr.Code))
	}
	if err != nil {
		// A SAM fault: the card was not credited; the sale goes on and
		// the daemon raises the fault.
		err = fmt.Errorf("pos: claim: %w", err)
	}
	return got, Result{}, false, err
}

// mayClaim reports whether the card may be loaded here now: no money hold
// on (the sale is refused then anyway) and the card not on the status
// list (the ledger refuses such accounts too; the POS does not ask).
func (p *POS) mayClaim(ctx context.Context, info *cardread.Info) bool {
	if err := p.knowStatusList(); err != nil {
		return false // the sale reports the store's failure
	}
	if _, on := p.holds.Money(p.now()); on {
		return false
	}
	if _, listed, err := p.store.Lookup(info.CardNo); err != nil || listed {
		return false
	}
	if p.cfg.Mode == config.ModeMetered && p.sessions[info.CardNo] != nil {
		return false // the tap stops the card's shower: its charge, not a load
	}
	return ctx.Err() == nil
}

// ledgerAnswered logs, once per change, that the ledger stopped or
// started answering the claims in time: the POS sells either way.
func (p *POS) ledgerAnswered(err error) {
	switch {
	case err != nil && !p.claimsDown:
		p.claimsDown = true
		p.log.Info("pos: the ledger does not answer claims in time: selling without claims until it does", "err", err)
	case err != nil:
		p.log.Debug("pos: the ledger did not answer a claim in time", "err", err)
	case p.claimsDown:
		p.claimsDown = false
		p.log.Info("pos: the ledger answers claims again")
	}
}

// loadTapAgain is the result of a card that left during the claim: a
// load whose CREDIT was sent is uncertain and settled at its next tap.
func (p *POS) loadTapAgain(info *cardread.Info, lr load.Result) Result {
	return Result{Outcome: TapAgain, Code: policy.Code(lr.Code), Message: lr.Message, CardNo: info.CardNo, LoadID: lr.LoadID}
}

// ConfirmLoads reports to the ledger the loads this POS credited and has
// not confirmed yet (the daemon calls it when the ledger answers again).
// It returns a store failure; an unreachable ledger is tried again later.
func (p *POS) ConfirmLoads(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.engine.Confirm(ctx); err != nil {
		return fmt.Errorf("pos: confirm loads: %w", err)
	}
	return nil
}
