package cardwrite

import (
	"errors"
	"fmt"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// OfflineStore keeps the intents in the device's store (offline's
// card-write intents: bucket cardwrites, each outcome journaled as a
// card-write record in the same commit).
type OfflineStore struct{ S *offline.Store }

var _ Store = OfflineStore{}

// Open makes the intent durable. A write opened before with other
// commands (a 补写: the card's status changed since) is opened anew.
func (o OfflineStore) Open(in Intent) error {
	w := offline.CardWriteIntent{WriteID: in.Write.WriteID, CardNo: in.Write.CardNo, Field: in.Write.Field.String(),
		Trade: in.Write.Trade.String(), Operator: in.Operator}
	for _, c := range in.Commands {
		w.Writes = append(w.Writes, offline.CardWriteBinary{SFI: c.SFI, Offset: c.Offset, Data: c.Data})
	}
	// APPLICATION UNBLOCK is not kept: a 补写 plans it again from the
	// card (Plan), and a report needs only the outcome.
	_, err := o.S.OpenCardWrite(w)
	if errors.Is(err, offline.ErrCardWriteConflict) {
		if ferr := o.S.ForgetCardWrite(w.WriteID); ferr != nil {
			return errors.Join(err, ferr)
		}
		_, err = o.S.OpenCardWrite(w)
	}
	return err
}

// Settle records the outcome and journals it.
func (o OfflineStore) Settle(writeID string, out protocol.WriteOutcome, echo protocol.CardValues) error {
	_, err := o.S.SettleCardWrite(writeID, out.String(), offline.CardWriteEcho{TxLimit: echo.TxLimit, CardStatus: echo.CardStatus,
		StatusVersion: echo.StatusVersion, ValidUntil: echo.ValidUntil})
	return err
}

// ToReport lists the settled intents the ledger has not taken.
func (o OfflineStore) ToReport() ([]Intent, error) {
	ws, err := o.S.CardWritesToReport()
	if err != nil {
		return nil, err
	}
	out := make([]Intent, 0, len(ws))
	for _, w := range ws {
		in, err := intentOf(w)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// Reported marks the report of outcome taken.
func (o OfflineStore) Reported(writeID string, out protocol.WriteOutcome) error {
	return o.S.MarkCardWriteReported(writeID, out.String())
}

// intentOf is the engine's view of a stored intent (what a report needs).
func intentOf(w offline.CardWriteIntent) (Intent, error) {
	in := Intent{Operator: w.Operator, Echo: protocol.CardValues{TxLimit: w.Echo.TxLimit, CardStatus: w.Echo.CardStatus,
		StatusVersion: w.Echo.StatusVersion, ValidUntil: w.Echo.ValidUntil}}
	in.Write = protocol.CardWrite{WriteID: w.WriteID, CardNo: w.CardNo}
	for f := protocol.FieldPIN; f <= protocol.FieldValidUntil; f++ {
		if f.String() == w.Field {
			in.Write.Field = f
		}
	}
	for _, o := range []protocol.WriteOutcome{protocol.OutcomeWritten, protocol.OutcomeFailed, protocol.OutcomeTornUnknown} {
		if o.String() == w.Outcome {
			in.Outcome = o
		}
	}
	if in.Write.Field == 0 || in.Outcome == 0 {
		return Intent{}, fmt.Errorf("cardwrite: stored intent %s: field %q outcome %q", w.WriteID, w.Field, w.Outcome)
	}
	for _, c := range w.Writes {
		in.Commands = append(in.Commands, epurse.BinaryWrite{SFI: c.SFI, Offset: c.Offset, Data: c.Data})
	}
	return in, nil
}
