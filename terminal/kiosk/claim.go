package kiosk

import (
	"context"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/load"
)

// claim asks the ledger what the card may claim and loads amount of it
// (0: all that fits under the purse limit), through the claim engine.
func (k *Kiosk) claim(ctx context.Context, card reader.Card, info cardread.Info, amount int64) (Result, error) {
	r, err := k.engine.Claim(ctx, card, info, amount)
	return resultOf(r), err
}

// resultOf is the kiosk's Result of the engine's.
func resultOf(r load.Result) Result {
	return Result{Outcome: outcomeOf(r.Outcome), Code: r.Code, Message: r.Message, CardNo: r.CardNo, Amount: r.Amount,
		Balance: r.Balance, LoadID: r.LoadID, Recovered: r.Recovered, Refusal: r.Refusal}
}

func outcomeOf(o load.Outcome) Outcome {
	switch o {
	case load.Loaded:
		return Loaded
	case load.Nothing:
		return Nothing
	case load.Refused:
		return Refused
	case load.TapAgain:
		return TapAgain
	}
	return 0
}
