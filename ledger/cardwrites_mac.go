package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// CardWriteMACs makes the secure-messaging MACs of card writes: what the
// ledger needs of its key service for them. The key service's MAC methods
// (UPDATE BINARY under the card's diversified maintenance key, PIN RELOAD
// under the reload key) are another change to package keys; this package
// only consumes them through this interface (Options.CardWriteMACs, or the
// key service when it implements it). Without one, /v1/cardwrites/mac
// answers no MAC.
type CardWriteMACs interface {
	CardWriteMAC(ctx context.Context, in CardWriteMACInput) ([4]byte, error)
}

// CardWriteMACInput is one card write to MAC: the field says which key
// and command (FieldPINReload: PIN RELOAD; the others: UPDATE BINARY
// under the maintenance key), the card's serial its diversification and
// the challenge the MAC's initial value.
type CardWriteMACInput struct {
	Field      protocol.WriteField
	CardSerial [8]byte
	KeyVersion byte
	Challenge  []byte // 4 or 8 bytes from GET CHALLENGE
	Command    []byte // header (Lc counting the MAC) ‖ data, without the MAC
}

// cardWriteMACs returns the MAC source, nil when there is none.
func (l *Ledger) cardWriteMACs() CardWriteMACs {
	if l.opts.CardWriteMACs != nil {
		return l.opts.CardWriteMACs
	}
	m, _ := l.keys.(CardWriteMACs)
	return m
}

// WriteMACRequest is a device's CardWriteMACRequest as the ledger takes it.
type WriteMACRequest struct {
	DeviceID string
	WriteID  uint64
	CardNo   string
	CardWriteMACInput
}

// valueBytes returns the bytes an update of w must carry (the yktd card
// profile's encoding of its field, protocol.WriteField).
func valueBytes(w *CardWrite) []byte {
	v := w.Values
	switch w.Field {
	case protocol.FieldTxLimit:
		return []byte{byte(v.TxLimit >> 16), byte(v.TxLimit >> 8), byte(v.TxLimit)}
	case protocol.FieldStatus:
		return binary.BigEndian.AppendUint32([]byte{v.CardStatus}, uint32(v.StatusVersion))
	case protocol.FieldValidUntil:
		b := make([]byte, 4)
		for i := range b {
			b[i] = (v.ValidUntil[2*i]-'0')<<4 | (v.ValidUntil[2*i+1] - '0')
		}
		return b
	}
	return nil
}

// WriteMAC returns the MAC of the command a device will send for a
// pending write of its card, and whether there is one (false: the ledger
// has no MAC source). The command must be the write's: PIN RELOAD (INS
// 5E) for a pin-reload write, UPDATE BINARY (INS D6) with secure
// messaging (CLA bit 04) carrying the write's value bytes for the others,
// its Lc counting the 4 MAC bytes; a CHANGE PIN write needs no MAC
// (malformed). ErrUnknownRef: no such write for the card; ErrStateRefused:
// the write is finished.
func (l *Ledger) WriteMAC(ctx context.Context, r WriteMACRequest) ([4]byte, bool, error) {
	var w CardWrite
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		w, err = getWrite(tx, r.WriteID)
		return err
	})
	if err != nil {
		return [4]byte{}, false, err
	}
	cmd := r.Command
	switch {
	case w.Card != r.CardNo:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s is not of card %s: %w", w.WriteID(), r.CardNo, ErrUnknownRef)
	case w.State != protocol.WritePending:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s is %s: %w", w.WriteID(), w.State, ErrStateRefused)
	case w.Field == protocol.FieldPIN:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: CHANGE PIN takes no MAC: %w", w.WriteID(), ErrMalformed)
	case len(cmd) < 5 || int(cmd[4]) != len(cmd)-5+4 || cmd[0]&0x04 == 0:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: the command is no secure-messaging command with its Lc: %w", w.WriteID(), ErrMalformed)
	case w.Field == protocol.FieldPINReload && cmd[1] != 0x5E:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: a pin-reload write is a PIN RELOAD (5E), not %02X: %w", w.WriteID(), cmd[1], ErrMalformed)
	case w.Field != protocol.FieldPINReload && (cmd[1] != 0xD6 || !bytes.Contains(cmd[5:], valueBytes(&w))):
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: the command is no UPDATE BINARY of the write's value: %w", w.WriteID(), ErrMalformed)
	}
	src := l.cardWriteMACs()
	if src == nil {
		return [4]byte{}, false, nil
	}
	in := r.CardWriteMACInput
	in.Field = w.Field
	mac, err := src.CardWriteMAC(ctx, in)
	if err != nil {
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: MAC: %w", w.WriteID(), err)
	}
	l.log.Info("card write MAC given", "write", w.WriteID(), "card", w.Card, "field", w.Field.String(), "device", r.DeviceID)
	return mac, true, nil
}
