package epurse

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Well-known application identifiers of e-purse applications (research
// notes §2.6).
var (
	// AIDCityCard is the 住建部 city card EP ADF.
	AIDCityCard = []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x86, 0x98, 0x07, 0x01}
	// AIDKingstar is the Kingstar campus payment ADF ("金仕达支付").
	AIDKingstar = []byte{0xD1, 0x56, 0x00, 0x00, 0x01, 0xBD, 0xF0, 0xCA, 0xCB, 0xB4, 0xEF, 0xD6, 0xA7, 0xB8, 0xB6}
)

// FIDEPADF is the file identifier of the EP ADF on PBOC cards.
const FIDEPADF uint16 = 0x1001

// MaxLogRecords is the number of records ReadLog asks for at most (the
// usual size of the cyclic file 0x18).
const MaxLogRecords = 10

// Select selects the application by AID and returns the FCI the card
// answered (unparsed). A blocked application answers 6A81 (temporarily)
// or 9303 (permanently): the error wraps ErrAppBlocked (and ErrLocked for
// 9303); the application is then selected for APPLICATION UNBLOCK only.
func Select(ctx context.Context, card reader.Card, aid []byte) ([]byte, error) {
	fci, err := reader.Transceive(ctx, card, SelectAID(aid))
	if err != nil {
		return nil, fmt.Errorf("epurse: select: %w", selectError(err))
	}
	return fci, nil
}

// SelectFile selects a DF or EF by file identifier and returns the FCI.
// Errors as Select.
func SelectFile(ctx context.Context, card reader.Card, fid uint16) ([]byte, error) {
	fci, err := reader.Transceive(ctx, card, SelectFID(fid))
	if err != nil {
		return nil, fmt.Errorf("epurse: select %04X: %w", fid, selectError(err))
	}
	return fci, nil
}

// selectError is cardError with SELECT's meaning of 6A81 and 9303: the
// application is blocked.
func selectError(err error) error {
	var se *reader.StatusError
	if errors.As(err, &se) && (se.SW == reader.SWFuncNotSupported || se.SW == reader.SWApplicationLocked) {
		return fmt.Errorf("%w: %w", ErrAppBlocked, cardError(err))
	}
	return cardError(err)
}

// ReadPublicData reads and parses file 0x15 of the selected application.
func ReadPublicData(ctx context.Context, card reader.Card) (PublicData, error) {
	b, err := reader.Transceive(ctx, card, ReadBinarySFI(SFIPublicData, 0, PublicDataLen))
	if err != nil {
		return PublicData{}, fmt.Errorf("epurse: read public data: %w", cardError(err))
	}
	p, err := ParsePublicData(b)
	if err != nil {
		return PublicData{}, err
	}
	return p, nil
}

// GetBalance returns the e-purse balance in fen.
func GetBalance(ctx context.Context, card reader.Card) (uint32, error) {
	b, err := reader.Transceive(ctx, card, GetBalanceCommand())
	if err != nil {
		return 0, fmt.Errorf("epurse: get balance: %w", cardError(err))
	}
	return ParseBalance(b)
}

// VerifyPIN presents the holder's PIN. A wrong PIN returns an error that
// errors.As finds as *PINError; a blocked PIN (6983) wraps ErrLocked.
func VerifyPIN(ctx context.Context, card reader.Card, pin string) error {
	cmd, err := VerifyPINCommand(pin)
	if err != nil {
		return fmt.Errorf("epurse: verify pin: %w", err)
	}
	if _, err := reader.Transceive(ctx, card, cmd); err != nil {
		return fmt.Errorf("epurse: verify pin: %w", cardError(err))
	}
	return nil
}

// ChangePIN changes the holder's PIN (CHANGE PIN, the holder knows the old
// one). Errors as VerifyPIN.
func ChangePIN(ctx context.Context, card reader.Card, oldPIN, newPIN string) error {
	cmd, err := ChangePINCommand(oldPIN, newPIN)
	if err != nil {
		return fmt.Errorf("epurse: change pin: %w", err)
	}
	if _, err := reader.Transceive(ctx, card, cmd); err != nil {
		return fmt.Errorf("epurse: change pin: %w", cardError(err))
	}
	return nil
}

// InitializeForPurchase sends INITIALIZE FOR PURCHASE. An amount above
// balance plus overdraft returns an error wrapping ErrInsufficientBalance.
func InitializeForPurchase(ctx context.Context, card reader.Card, keyIndex byte, amount uint32, termID [6]byte) (PurchaseInit, error) {
	b, err := reader.Transceive(ctx, card, InitPurchaseCommand(keyIndex, amount, termID))
	if err != nil {
		return PurchaseInit{}, fmt.Errorf("epurse: initialize for purchase: %w", cardError(err))
	}
	return ParsePurchaseInit(b)
}

// DebitForPurchase sends DEBIT FOR PURCHASE and returns TAC and MAC2. Any
// error from it leaves the debit uncertain; the purchase flow (Purchase.Debit)
// classifies it.
func DebitForPurchase(ctx context.Context, card reader.Card, termSeq uint32, dt DateTime, mac1 [4]byte) (tac, mac2 [4]byte, err error) {
	b, err := reader.Transceive(ctx, card, DebitCommand(termSeq, dt, mac1))
	if err != nil {
		return tac, mac2, fmt.Errorf("epurse: debit: %w", cardError(err))
	}
	return ParseDebit(b)
}

// InitializeForLoad sends INITIALIZE FOR LOAD.
func InitializeForLoad(ctx context.Context, card reader.Card, keyIndex byte, amount uint32, termID [6]byte) (LoadInit, error) {
	b, err := reader.Transceive(ctx, card, InitLoadCommand(keyIndex, amount, termID))
	if err != nil {
		return LoadInit{}, fmt.Errorf("epurse: initialize for load: %w", cardError(err))
	}
	return ParseLoadInit(b)
}

// CreditForLoad sends CREDIT FOR LOAD and returns the TAC.
func CreditForLoad(ctx context.Context, card reader.Card, dt DateTime, mac2 [4]byte) ([4]byte, error) {
	b, err := reader.Transceive(ctx, card, CreditCommand(dt, mac2))
	if err != nil {
		return [4]byte{}, fmt.Errorf("epurse: credit for load: %w", cardError(err))
	}
	return ParseCredit(b)
}

// GetTransactionProve fetches MAC and TAC of the transaction of the given
// type that left the card's counter at counter. 9406 wraps ErrNoProof.
func GetTransactionProve(ctx context.Context, card reader.Card, txType byte, counter uint16) (mac, tac [4]byte, err error) {
	b, err := reader.Transceive(ctx, card, ProveCommand(txType, counter))
	if err != nil {
		return mac, tac, fmt.Errorf("epurse: get transaction prove: %w", cardError(err))
	}
	return ParseProve(b)
}

// ReadRecord reads record n (1 = most recent) of the transaction log.
func ReadRecord(ctx context.Context, card reader.Card, n byte) (Record, error) {
	b, err := reader.Transceive(ctx, card, ReadRecordSFI(SFILog, n, RecordLen))
	if err != nil {
		return Record{}, fmt.Errorf("epurse: read record %d: %w", n, cardError(err))
	}
	return ParseRecord(b)
}

// ReadLog reads the transaction log, most recent first, up to limit records
// (MaxLogRecords when limit ≤ 0), stopping at the first missing record
// (6A83) and skipping never-written (all-zero) slots.
func ReadLog(ctx context.Context, card reader.Card, limit int) ([]Record, error) {
	if limit <= 0 || limit > 255 {
		limit = MaxLogRecords
	}
	var out []Record
	for n := 1; n <= limit; n++ {
		r, err := ReadRecord(ctx, card, byte(n))
		var se *reader.StatusError
		if errors.As(err, &se) && se.SW == reader.SWRecordNotFound {
			break
		}
		if err != nil {
			return out, err
		}
		if !r.Empty() {
			out = append(out, r)
		}
	}
	return out, nil
}
