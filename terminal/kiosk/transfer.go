package kiosk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

// Codes of the session's own screens (the ledger's refusals are the
// claim engine's: load.RefusalCode).
const (
	CodeWrongPIN          ui.Code = "wrong_pin"            // the card refused the holder's PIN: tries left shown
	CodePINLocked         ui.Code = "pin_locked"           // the card blocked the holder's PIN: the service desk
	CodeTransferInAccount ui.Code = "transfer_in_account"  // the transfer reached the account; the load did not happen: place the card again
	CodeNoTransfer        ui.Code = "transfer_unavailable" // this kiosk offers no bank transfer
)

var sessionTexts = map[ui.Code][2]string{
	CodeWrongPIN:          {"密码错误", "Wrong PIN"},
	CodePINLocked:         {"密码已锁定 请到管理中心处理", "PIN blocked: see the service desk"},
	CodeTransferInAccount: {"转账已到账 请重新放卡领取", "Transfer in your account: place the card again to load it"},
	CodeNoTransfer:        {"本机不支持银行转账", "No bank transfer at this kiosk"},
}

// sessionMessageOf is the screen of a session code, or the engine's.
func sessionMessageOf(c ui.Code) ui.Message {
	if t, ok := sessionTexts[c]; ok {
		return ui.Custom(c, t[0], t[1])
	}
	return message(c)
}

// withBalance adds the card's balance to m.
func withBalance(m ui.Message, balance int64) ui.Message {
	m.Balance, m.HasBalance = balance, true
	return m
}

// Transfer is 银校转账 for the session's card: the holder's PIN is
// verified by the card (which counts the wrong ones), the ledger moves
// amount fen from the bank into the account (the PIN goes in the signed
// request, for the ledger's own check), and the kiosk loads it at once.
// A transfer that reached the account and was not loaded (the card
// left) waits there for the next claim. The PIN is never logged or kept.
func (s *Sessions) Transfer(ctx context.Context, id string, amount int64, pin string) (Step, error) {
	if amount <= 0 || amount > maxAmount {
		return Step{}, fmt.Errorf("%w: amount %d", ErrBadRequest, amount)
	}
	if _, err := epurse.EncodePIN(pin); err != nil || len(pin) < 4 {
		return Step{}, fmt.Errorf("%w: the PIN is not 4 to 12 digits", ErrBadRequest)
	}
	ss, err := s.begin(id)
	if err != nil {
		return Step{}, err
	}
	st, err := s.transfer(ctx, ss, amount, pin)
	st.Service = "transfer"
	s.k.show(ctx, st.Message)
	s.log.Info("kiosk: transfer", "session", ss.id, "card", ss.cardNo, "amount", amount, "code", string(st.Code),
		"transfer", st.TransferID, "loaded", st.Amount)
	s.finish(ctx, ss, st)
	return st, err
}

func (s *Sessions) transfer(ctx context.Context, ss *session, amount int64, pin string) (Step, error) {
	fail := func(c ui.Code) Step {
		r := refused(ss.cardNo, c)
		r.Balance, r.Message = ss.balance, withBalance(sessionMessageOf(c), ss.balance)
		return Step{Result: r}
	}
	if s.bank == nil {
		return fail(CodeNoTransfer), nil
	}
	info, err := cardread.Read(ctx, ss.card, s.k.aids)
	if err != nil || info.CardNo != ss.cardNo {
		return Step{Result: tapAgain(ss.cardNo, CodeTapAgain)}, nil
	}
	ss.balance = info.Balance
	err = epurse.VerifyPIN(ctx, ss.card, pin)
	var pe *epurse.PINError
	switch {
	case err == nil:
	case errors.As(err, &pe) && pe.Retries > 0:
		st := fail(CodeWrongPIN)
		st.TriesLeft, st.Message = pe.Retries, ui.WrongPIN(pe.Retries)
		return st, nil
	case errors.As(err, &pe), errors.Is(err, epurse.ErrLocked):
		return fail(CodePINLocked), nil
	case epurse.Transient(err):
		return Step{Result: tapAgain(ss.cardNo, CodeTapAgain)}, nil
	default:
		s.log.Warn("kiosk: VERIFY failed", "card", ss.cardNo, "err", err)
		return fail(CodeCardRefused), nil
	}
	req := protocol.TransferRequest{CardNo: ss.cardNo, RequestID: make([]byte, protocol.RequestIDSize),
		Amount: amount, PIN: protocol.SecretPIN(pin)}
	if _, err := rand.Read(req.RequestID); err != nil {
		return fail(CodeStoreFault), fmt.Errorf("kiosk: transfer request id: %w", err)
	}
	var resp protocol.TransferResponse
	for attempt := 0; ; attempt++ {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.LedgerTimeout.D())
		resp, err = s.bank.Transfer(lctx, req)
		cancel()
		// The same request again is idempotent at the ledger: one retry
		// covers an answer lost on the way back.
		if err == nil || attempt == 1 || !retryable(err) {
			break
		}
	}
	if err != nil {
		var perr *protocol.Error
		if errors.As(err, &perr) {
			s.log.Warn("kiosk: transfer refused", "card", ss.cardNo, "code", perr.Code.String())
			st := fail(load.RefusalCode(perr.Code))
			st.Refusal = perr.Code
			return st, nil
		}
		s.log.Warn("kiosk: transfer: the ledger did not answer", "card", ss.cardNo, "err", err)
		return fail(CodeLedgerOffline), nil
	}
	res, err := s.k.Claim(ctx, ss.card, 0)
	st := Step{Result: res, TransferID: resp.TransferID}
	if res.Outcome != Loaded {
		st.Result.Code = CodeTransferInAccount
		st.Message = sessionMessageOf(CodeTransferInAccount)
		st.Message.Amount, st.Message.HasAmount = amount, true
	}
	return st, err
}

// retryable reports a transfer failure that the same request may retry:
// an answer that did not arrive, a bank or ledger that asked to retry.
func retryable(err error) bool {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return !errors.Is(err, context.Canceled)
	}
	return pe.Code == protocol.CodeBankUnavailable || pe.Code == protocol.CodeInternal
}
