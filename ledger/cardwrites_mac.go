package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	bolt "go.etcd.io/bbolt"
)

// CardWriteMACs makes the secure-messaging MACs of card writes: what the
// ledger needs of its key service for them (Options.CardWriteMACs, else
// the key service: keys.Software's epurse.WriteKeys through
// writeKeysMACs). Without one, /v1/cardwrites/mac answers no MAC.
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
	Algorithm  epurse.Algorithm // the card's: AlgDES or AlgSM4
	Challenge  []byte           // 4 or 8 bytes from GET CHALLENGE
	Command    []byte           // header (Lc counting the MAC) ‖ data, without the MAC
}

// cardWriteMACs returns the MAC source, nil when there is none.
func (l *Ledger) cardWriteMACs() CardWriteMACs {
	if l.opts.CardWriteMACs != nil {
		return l.opts.CardWriteMACs
	}
	if m, ok := l.keys.(CardWriteMACs); ok {
		return m
	}
	if k, ok := l.keys.(epurse.WriteKeys); ok {
		return writeKeysMACs{k}
	}
	return nil
}

// writeKeysMACs makes the card-write MACs with a key service's
// epurse.WriteKeys (UPDATE BINARY under the card's DAMK, PIN RELOAD under
// its DRPK), which refuses a command that is not the key's.
type writeKeysMACs struct{ k epurse.WriteKeys }

// CardWriteMAC returns the MAC of in's command.
func (w writeKeysMACs) CardWriteMAC(ctx context.Context, in CardWriteMACInput) ([4]byte, error) {
	if len(in.Challenge) != 4 || len(in.Command) < 5 {
		return [4]byte{}, fmt.Errorf("ledger: card write MAC: a challenge of %d bytes and a command of %d: %w", len(in.Challenge), len(in.Command), ErrMalformed)
	}
	ref := epurse.CardRef{Serial: in.CardSerial, KeyVersion: in.KeyVersion, Algorithm: in.Algorithm}
	header, data := [5]byte(in.Command[:5]), in.Command[5:]
	if in.Field == protocol.FieldPINReload {
		return w.k.PINReloadMAC(ctx, ref, data)
	}
	if header == epurse.AppUnblockHeader() && len(data) == 0 {
		return w.k.UnblockMAC(ctx, ref, [4]byte(in.Challenge), header)
	}
	return w.k.UpdateMAC(ctx, ref, [4]byte(in.Challenge), header, data)
}

// WriteMACRequest is a device's CardWriteMACRequest as the ledger takes it.
type WriteMACRequest struct {
	DeviceID string
	WriteID  uint64
	CardNo   string
	CardWriteMACInput
}

// updateMatches reports whether cmd (header ‖ data, Lc counting the MAC)
// is an UPDATE BINARY under secure messaging of w's value as the yktd card
// profile holds it (docs/architecture.md §4.1.1): tx-limit file 0x12
// offset 1 (the per-transaction limit, then any daily limit); status file
// 0x12 offset 9 (the status-list version of the 解挂), or the card status
// byte of file 0x15 (offset 29) when the card itself was locked;
// valid-until file 0x15 offset 24 (BCD).
func updateMatches(w *CardWrite, cmd []byte) bool {
	v := w.Values
	var want []epurse.BinaryWrite
	switch w.Field {
	case protocol.FieldTxLimit:
		if v.TxLimit < 0 || v.TxLimit > math.MaxUint32 || len(cmd) != 5+8 {
			return false
		}
		lw := epurse.LimitsWrite(uint32(v.TxLimit), binary.BigEndian.Uint32(cmd[9:13])) // the daily limit as the card holds it
		want = []epurse.BinaryWrite{lw}
	case protocol.FieldStatus:
		want = []epurse.BinaryWrite{epurse.ListVersionWrite(v.StatusVersion), epurse.CardStatusWrite(v.CardStatus)}
	case protocol.FieldValidUntil:
		var end [4]byte
		for i := range end {
			end[i] = (v.ValidUntil[2*i]-'0')<<4 | (v.ValidUntil[2*i+1] - '0')
		}
		ew, err := epurse.ExpiryWrite(end)
		if err != nil {
			return false
		}
		want = []epurse.BinaryWrite{ew}
	}
	for _, bw := range want {
		h, err := bw.Header()
		if err == nil && bytes.Equal(cmd[:5], h[:]) && bytes.Equal(cmd[5:], bw.Data) {
			return true
		}
	}
	return false
}

// appUnblock is APPLICATION UNBLOCK's header (its MAC covers only it).
var appUnblock = epurse.AppUnblockHeader()

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
	case w.Field == protocol.FieldStatus && w.Values.CardStatus == 0 && bytes.Equal(cmd, appUnblock[:]):
		// 解挂 of a card whose application a terminal blocked: APPLICATION
		// UNBLOCK before the status writes.
	case len(cmd) < 5 || int(cmd[4]) != len(cmd)-5+4:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: the command is no MAC'd command with its Lc: %w", w.WriteID(), ErrMalformed)
	case w.Field == protocol.FieldPINReload && (cmd[0] != 0x80 || cmd[1] != 0x5E || cmd[2] != 0 || cmd[3] != 0):
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: a pin-reload write is a PIN RELOAD (80 5E 00 00), not % X: %w", w.WriteID(), cmd[:4], ErrMalformed)
	case w.Field != protocol.FieldPINReload && cmd[0]&0x04 == 0:
		return [4]byte{}, false, fmt.Errorf("ledger: card write %s: an UPDATE BINARY without secure messaging (CLA %02X): %w", w.WriteID(), cmd[0], ErrMalformed)
	case w.Field != protocol.FieldPINReload && !updateMatches(&w, cmd):
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
