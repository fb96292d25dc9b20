package pos

import (
	"context"
	"errors"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// maxPINEntries bounds the PIN entries of one tap (the card's own retry
// counter bounds the wrong ones across taps).
const maxPINEntries = 3

// maxPINLen is the longest PIN the card profile allows (EncodePIN).
const maxPINLen = 12

// checkPIN asks for the holder's PIN on the keypad and VERIFYs it on the
// card. A wrong PIN shows the tries left and asks again while the card
// allows; a blocked PIN, a cancelled entry or a card that left refuses the
// sale. The PIN itself is never logged or kept.
func (p *POS) checkPIN(ctx context.Context, card reader.Card, info cardread.Info, amount int64) (Result, bool) {
	if p.keypad == nil {
		return refused(info.CardNo, policy.CodeWrongPIN), false
	}
	p.show(ctx, ui.EnterPIN(amount))
	for range maxPINEntries {
		kctx, cancel := context.WithTimeout(ctx, p.cfg.PINTimeout.D())
		pin, err := p.keypad.ReadPIN(kctx, maxPINLen)
		cancel()
		if err != nil {
			return refused(info.CardNo, CodeEntryCancelled), false
		}
		err = epurse.VerifyPIN(ctx, card, pin.Reveal())
		pin.Wipe()
		var pe *epurse.PINError
		switch {
		case err == nil:
			return Result{}, true
		case errors.As(err, &pe) && pe.Retries > 0:
			p.log.Info("pos: wrong PIN", "card", info.CardNo, "tries_left", pe.Retries)
			p.show(ctx, ui.WrongPIN(pe.Retries))
		case errors.As(err, &pe), errors.Is(err, epurse.ErrLocked):
			p.log.Warn("pos: PIN blocked", "card", info.CardNo)
			return refused(info.CardNo, CodePINLocked), false
		case errors.Is(err, epurse.ErrBadRequest):
			// Not 2 to 12 digits: the card never saw it.
			p.show(ctx, message(policy.CodeWrongPIN))
		case epurse.Transient(err):
			return tapAgain(info.CardNo, CodeCardUnreadable), false
		default:
			p.log.Warn("pos: VERIFY failed", "card", info.CardNo, "err", err)
			return refused(info.CardNo, policy.CodeWrongPIN), false
		}
	}
	return refused(info.CardNo, policy.CodeWrongPIN), false
}
