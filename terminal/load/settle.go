package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
)

// Settler is the ledger's side of a load torn at one device and seen at
// another; *syncclient.Client implements it. A Ledger that also
// implements it lets the engine settle such loads (protocol.md §8).
type Settler interface {
	// ProbeLoad reports the card's online counter (its INITIALIZE FOR
	// LOAD answer for a probe amount, no CREDIT) and returns the card's
	// claims after the ledger settled its unsettled loads from it.
	ProbeLoad(ctx context.Context, m protocol.LoadInit) (protocol.Claims, error)
	// LoadStatus says what became of a load this device authorised.
	LoadStatus(ctx context.Context, loadID, cardNo string) (protocol.LoadState, error)
}

// probeAmount is what a probe's INITIALIZE FOR LOAD asks for (fen): the
// card needs an amount; no CREDIT follows.
const probeAmount = 1

// errProbed stops epurse.Load after INITIALIZE FOR LOAD: the probe is
// reported, nothing is credited.
var errProbed = errors.New("load: probe reported: no CREDIT FOR LOAD")

// StaleAfter is how long a load intent stays uncertain before Confirm
// asks the ledger what became of it (the card may have gone to another
// device instead of coming back).
const StaleAfter = time.Minute

// Settle settles, when c says the card has a load unsettled at the
// ledger (torn at a device the card did not go back to), that load from
// the card's online counter: a probe. It returns the claims after (c
// when there is nothing to settle, or the probe failed: the claim goes
// on with what the ledger said).
func (e *Engine) Settle(ctx context.Context, card reader.Card, info cardread.Info, c protocol.Claims) protocol.Claims {
	s, ok := e.ledger.(Settler)
	if !c.Unsettled || !ok || e.room(info.Balance) < probeAmount {
		return c
	}
	tid, err := e.sam.TerminalID(ctx)
	if err != nil {
		e.log.Warn("load: probe: terminal id", "card", info.CardNo, "err", err)
		return c
	}
	h := &probeHost{e: e, s: s, cardNo: info.CardNo}
	out := epurse.Load(ctx, card, h, epurse.LoadRequest{
		Amount: probeAmount, Time: epurse.NewDateTime(e.now().In(e.loc)), TermID: tid,
		KeyIndex: e.keyIndex, CardSerial: info.Public.Factor(), PIN: e.sam,
	})
	if h.err != nil || !errors.Is(out.Err, errProbed) {
		e.log.Warn("load: probe of an unsettled load failed: the claim goes on", "card", info.CardNo, "err", errors.Join(h.err, out.Err))
		return c
	}
	e.log.Info("load: the card's unsettled load settled by a probe", "card", info.CardNo, "claimable", h.claims.Claimable)
	return h.claims
}

// probeHost sends the card's INITIALIZE FOR LOAD answer as a probe.
type probeHost struct {
	e      *Engine
	s      Settler
	cardNo string
	claims protocol.Claims
	err    error
}

func (h *probeHost) AuthorizeLoad(ctx context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	m := protocol.LoadInit{CardNo: h.cardNo, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount),
		KeyIndex: h.e.keyIndex, KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm),
		Random: a.Random[:], MAC1: a.MAC1[:], TxTime: a.Time[:]}
	pctx, cancel := context.WithTimeout(ctx, h.e.claimsTimeout)
	h.claims, h.err = h.s.ProbeLoad(pctx, m)
	cancel()
	return [4]byte{}, errProbed
}

// settleByLedger settles an uncertain intent its card cannot (it was
// used elsewhere since) or has not come back to, from the ledger's word
// (LoadStatus): completed, the load record is journaled without TAC
// (offline.ReasonLedger); cancelled, the intent is voided and dropped
// (the ledger holds the money again). It reports whether it settled l;
// only a store failure is returned.
func (e *Engine) settleByLedger(ctx context.Context, l offline.Load) (bool, error) {
	s, ok := e.ledger.(Settler)
	if !ok || l.LoadID == "" {
		return false, nil
	}
	lctx, cancel := context.WithTimeout(ctx, e.ledgerTimeout)
	st, err := s.LoadStatus(lctx, l.LoadID, l.CardNo)
	cancel()
	if err != nil {
		e.log.Warn("load: the ledger did not say what became of a load", "load", l.LoadID, "card", l.CardNo, "err", err)
		return false, nil
	}
	switch st {
	case protocol.LoadCompleted:
		if _, err := e.store.CompleteLoad(l.ID, offline.LoadCompletion{BalanceAfter: l.BalanceBefore + l.Amount, ByLedger: true}); err != nil {
			return false, fmt.Errorf("load: complete load %d by the ledger: %w", l.ID, err)
		}
		e.log.Warn("load: settled by the ledger: the card was credited (seen since at another device); no TAC",
			"intent", l.ID, "load", l.LoadID, "card", l.CardNo, "amount", l.Amount)
		return true, nil
	case protocol.LoadCancelled:
		if err := e.store.VoidLoad(l.ID, "voided-at-ledger"); err != nil {
			return false, fmt.Errorf("load: void load %d: %w", l.ID, err)
		}
		if err := e.store.DropLoad(l.ID); err != nil {
			return false, fmt.Errorf("load: drop load %d: %w", l.ID, err)
		}
		e.log.Warn("load: settled by the ledger: the card was not credited", "intent", l.ID, "load", l.LoadID, "card", l.CardNo)
		return true, nil
	}
	return false, nil
}

// settleStale asks the ledger about the uncertain intents older than
// StaleAfter (their card has not come back): Confirm and Startup call it.
func (e *Engine) settleStale(ctx context.Context) error {
	ls, err := e.store.Loads()
	if err != nil {
		return fmt.Errorf("load: loads: %w", err)
	}
	for _, l := range ls {
		if l.State != offline.LoadUncertain || e.now().Sub(l.Opened) < StaleAfter {
			continue
		}
		settled, err := e.settleByLedger(ctx, l)
		if err != nil {
			return err
		}
		if settled {
			delete(e.handOff, l.ID)
		}
	}
	return nil
}
