package kiosk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

// Services is the ledger's side of the holder's self-service (issue 15,
// docs/protocol.md §8.4): the trades and the card writes they make.
// *syncclient.Client implements it.
type Services interface {
	Service(ctx context.Context, m protocol.ServiceRequest) (protocol.ServiceAnswer, error)
	cardwrite.Ledger
}

// ServiceJournal journals the trades the ledger answered (a service
// record: the trade, the card or account, the request id, the refusal);
// *offline.Store implements it. Never a PIN or an ID number: the record
// has no field for them.
type ServiceJournal interface {
	JournalService(r protocol.Record) (uint64, error)
}

// journal records the trade's answer (or refusal) in the journal.
func (s *Sessions) journal(req protocol.ServiceRequest, a protocol.ServiceAnswer, err error) {
	j, ok := s.k.store.(ServiceJournal)
	if !ok {
		return
	}
	r := protocol.Record{Kind: protocol.KindService, CardNo: req.CardNo, Account: req.Account, Trade: req.Trade.String(),
		Ref: hex.EncodeToString(req.RequestID), Operator: req.Operator}
	var pe *protocol.Error
	switch {
	case err == nil:
		if r.CardNo == "" {
			r.CardNo = a.CardNo
		}
		if a.Order != nil && a.Trade == protocol.TradePayFee {
			r.Amount = a.Order.Amount
		}
	case errors.As(err, &pe):
		r.Reason = pe.Code.String()
	default:
		return // the ledger did not answer: nothing happened there
	}
	if _, jerr := j.JournalService(r); jerr != nil {
		s.log.Error("kiosk: service record not journaled", "trade", r.Trade, "err", jerr)
	}
}

// Codes of the self-service screens (the ledger's refusals are
// load.RefusalCode's).
const (
	CodePINChanged    ui.Code = "pin_changed"         // 修改密码 done
	CodeLimitSet      ui.Code = "limit_set"           // 调整限额 done (the card holds the limit)
	CodeLossReported  ui.Code = "loss_reported"       // 挂失 done: the card is lost everywhere from the next status list
	CodeUnfrozen      ui.Code = "unfrozen"            // 解挂 done (the card holds the status-list version)
	CodeReactivated   ui.Code = "reactivated"         // 卡状态验证 done
	CodeFeePaid       ui.Code = "fee_paid"            // 网费/电费 paid from the account
	CodeStatement     ui.Code = "statement"           // 查询: balance and movements
	CodeWriteTorn     ui.Code = "write_torn"          // the card left mid-write: place it again to complete (补写)
	CodeWriteFailed   ui.Code = "write_failed"        // the card refused the write: nothing changed
	CodeWritesDone    ui.Code = "writes_completed"    // 补写: pending writes completed on arrival
	CodeNoServices    ui.Code = "service_unavailable" // this kiosk offers no self-service
	CodePINReset      ui.Code = "pin_reset"           // desk: 重置密码 done
	CodeUnblocked     ui.Code = "unblocked"           // desk: the ledger's lock cleared
	CodeAccountClosed ui.Code = "account_closed"      // desk: 销户 done: the card cancelled, its purse in the account (Refund)
)

var serviceTexts = map[ui.Code][2]string{
	CodePINChanged:    {"密码修改成功", "PIN changed"},
	CodeLimitSet:      {"限额已调整", "Limit changed"},
	CodeLossReported:  {"挂失成功", "Card reported lost"},
	CodeUnfrozen:      {"解挂成功", "Card unfrozen"},
	CodeReactivated:   {"卡片已激活", "Card reactivated"},
	CodeFeePaid:       {"缴费成功", "Fee paid"},
	CodeStatement:     {"查询成功", "Your balance and transactions"},
	CodeWriteTorn:     {"写卡未完成 请重新放卡", "Card write unfinished: place your card again"},
	CodeWriteFailed:   {"写卡失败 未作更改", "The card refused the write: nothing changed"},
	CodeWritesDone:    {"卡片信息已更新", "Your card was updated"},
	CodeNoServices:    {"本机不支持此业务", "This service is not available here"},
	CodePINReset:      {"密码已重置", "PIN reset"},
	CodeUnblocked:     {"已解锁", "Unlocked"},
	CodeAccountClosed: {"销户成功 余额转入账户待退款", "Account closed: the balance waits in the account for refund"},
}

func init() {
	for c, t := range serviceTexts {
		sessionTexts[c] = t
	}
}

// ServiceInput is what the holder entered for a trade. PIN, NewPIN and
// NationalID go to the card and the ledger only; they are never logged
// or kept.
type ServiceInput struct {
	Trade      protocol.Trade
	PIN        string
	NewPIN     string
	NationalID string
	TxLimit    int64 // fen
	OrderID    string
	Service    string // "net", "electricity"
	Reference  string
	Amount     int64 // fen
	Count      int
	// Unblock is what a desk's unblock clears (protocol.UnblockPIN,
	// UnblockID).
	Unblock protocol.Unblock
}

// deskTrades are the desk's own trades, with the card in the reader.
var deskTrades = map[protocol.Trade]bool{protocol.TradeResetPIN: true, protocol.TradeUnblock: true, protocol.TradeCloseAccount: true}

// ErrNoOperator: a service desk's step with no operator signed in.
var ErrNoOperator = errors.New("kiosk: desk: no operator signed in")

// SignIn makes op the desk's operator: every trade and card write from
// now on names it (the ledger keeps it with each effect; the journal's
// service and card-write records carry it). The desk's control
// credential authorises the sign-in.
func (s *Sessions) SignIn(op string) error {
	if !s.desk {
		return fmt.Errorf("%w: only a service desk has operators", ErrBadRequest)
	}
	if !validOperator(op) {
		return fmt.Errorf("%w: operator %q: want 1 to %d of A-Z a-z 0-9 . _ : -", ErrBadRequest, op, protocol.MaxOperatorLen)
	}
	s.mu.Lock()
	s.operator = op
	s.mu.Unlock()
	s.log.Info("desk: operator signed in", "operator", op)
	return nil
}

// SignOut ends the operator's sign-in: the desk refuses every trade
// until the next.
func (s *Sessions) SignOut() {
	s.mu.Lock()
	op := s.operator
	s.operator = ""
	s.mu.Unlock()
	s.log.Info("desk: operator signed out", "operator", op)
}

// Operator is the operator signed in at a desk ("" none).
func (s *Sessions) Operator() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.operator
}

func validOperator(op string) bool {
	if op == "" || len(op) > protocol.MaxOperatorLen {
		return false
	}
	for _, c := range []byte(op) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// kioskTrades are the trades a kiosk offers with the card in the reader.
var kioskTrades = map[protocol.Trade]bool{
	protocol.TradeChangePIN: true, protocol.TradeSetLimit: true, protocol.TradeUnfreeze: true,
	protocol.TradeReactivate: true, protocol.TradePayFee: true, protocol.TradeStatement: true,
}

// Service runs the holder's trade in on the session's card: the PIN
// checked by the card first (which counts the wrong ones; a 解挂 of a card
// whose application is blocked leaves it to the ledger), the ledger's
// trade (the same request id on the one retry), then the card writes the
// answer makes, each a durable intent, reported with the card's
// read-back. A card that leaves mid-write shows CodeWriteTorn: the write
// completes at its next tap.
func (s *Sessions) Service(ctx context.Context, id string, in ServiceInput) (Step, error) {
	if err := checkInput(in); err != nil {
		return Step{}, err
	}
	if !kioskTrades[in.Trade] && !(s.desk && deskTrades[in.Trade]) {
		return Step{}, fmt.Errorf("%w: %s is no trade of this device with a card", ErrBadRequest, in.Trade)
	}
	op := s.Operator()
	if s.desk && op == "" {
		return Step{}, ErrNoOperator
	}
	ss, err := s.begin(id)
	if err != nil {
		return Step{}, err
	}
	st, err := s.service(ctx, ss, in, op)
	st.Service = in.Trade.String()
	s.k.show(ctx, st.Message)
	s.log.Info("kiosk: service", "session", ss.id, "card", ss.cardNo, "trade", in.Trade.String(), "code", string(st.Code), "operator", op)
	s.finish(ctx, ss, st)
	return st, err
}

// checkInput refuses what the card or the ledger would refuse as malformed.
func checkInput(in ServiceInput) error {
	pin := func(p, what string) error {
		if _, err := epurse.EncodePIN(p); err != nil || len(p) < 4 {
			return fmt.Errorf("%w: the %s is not 4 to 12 digits", ErrBadRequest, what)
		}
		return nil
	}
	switch in.Trade {
	case protocol.TradeChangePIN:
		if err := pin(in.PIN, "PIN"); err != nil {
			return err
		}
		if err := pin(in.NewPIN, "new PIN"); err != nil {
			return err
		}
		if in.NewPIN == in.PIN {
			return fmt.Errorf("%w: the new PIN is the old one", ErrBadRequest)
		}
	case protocol.TradeUnfreeze:
		if len(in.NationalID) != 18 {
			return fmt.Errorf("%w: the ID number is not 18 characters", ErrBadRequest)
		}
		return pin(in.PIN, "PIN")
	case protocol.TradeSetLimit:
		if in.TxLimit < 0 || in.TxLimit > protocol.MaxTxLimit {
			return fmt.Errorf("%w: limit %d", ErrBadRequest, in.TxLimit)
		}
		return pin(in.PIN, "PIN")
	case protocol.TradePayFee:
		if in.Amount <= 0 || in.OrderID == "" || in.Service == "" {
			return fmt.Errorf("%w: a fee needs its order id, service and amount", ErrBadRequest)
		}
		return pin(in.PIN, "PIN")
	case protocol.TradeReportLoss, protocol.TradeReactivate, protocol.TradeStatement:
		return pin(in.PIN, "PIN")
	case protocol.TradeResetPIN:
		return pin(in.NewPIN, "new PIN")
	case protocol.TradeUnblock:
		if in.Unblock == 0 || in.Unblock&^(protocol.UnblockPIN|protocol.UnblockID) != 0 {
			return fmt.Errorf("%w: unblock %d: want 1 (PIN), 2 (ID number) or 3", ErrBadRequest, in.Unblock)
		}
	}
	return nil
}

func (s *Sessions) service(ctx context.Context, ss *session, in ServiceInput, op string) (Step, error) {
	fail := func(c ui.Code) Step {
		r := refused(ss.cardNo, c)
		r.Balance, r.Message = ss.balance, withBalance(sessionMessageOf(c), ss.balance)
		return Step{Result: r}
	}
	if s.svc == nil || s.writes == nil {
		return fail(CodeNoServices), nil
	}
	c, blocked, err := s.cardForWrite(ctx, ss)
	if err != nil {
		return Step{Result: tapAgain(ss.cardNo, CodeTapAgain)}, nil
	}
	if c.Public.CardNumber() != ss.cardNo {
		return Step{Result: tapAgain(ss.cardNo, CodeTapAgain)}, nil
	}
	// The card checks the PIN first and counts a wrong one; a blocked
	// application refuses every PIN (解挂 then rests on the ledger's check).
	// A desk's own trades take no holder PIN (it may be the locked one).
	if !blocked && !deskTrades[in.Trade] {
		if st, ok := s.verifyPIN(ctx, ss, in.PIN, fail); !ok {
			return st, nil
		}
	}
	req := protocol.ServiceRequest{RequestID: make([]byte, protocol.RequestIDSize), Trade: in.Trade, CardNo: ss.cardNo,
		PIN: protocol.SecretPIN(in.PIN), TxLimit: in.TxLimit, OrderID: in.OrderID, Service: in.Service,
		Reference: in.Reference, Amount: in.Amount, Count: in.Count, Operator: op, Unblock: in.Unblock}
	if deskTrades[in.Trade] {
		req.PIN = nil
	}
	if in.Trade == protocol.TradeCloseAccount {
		// 销户: the card's INITIALIZE FOR LOAD (no CREDIT follows) proves
		// its purse balance to the ledger, which moves it to the account.
		if blocked {
			return fail(CodeCardRefused), nil
		}
		p, err := s.balanceProof(ctx, ss, c)
		if err != nil {
			s.log.Warn("desk: the card's balance proof failed", "card", ss.cardNo, "err", err)
			if epurse.Transient(err) {
				return Step{Result: tapAgain(ss.cardNo, CodeTapAgain)}, nil
			}
			return fail(CodeCardRefused), nil
		}
		req.Proof = p
	}
	if in.Trade == protocol.TradeChangePIN || in.Trade == protocol.TradeResetPIN {
		req.NewPIN = protocol.SecretPIN(in.NewPIN)
	}
	if in.Trade == protocol.TradeUnfreeze {
		req.NationalID = protocol.SecretID(strings.ToUpper(in.NationalID))
	}
	if _, err := rand.Read(req.RequestID); err != nil {
		return fail(CodeStoreFault), fmt.Errorf("kiosk: service request id: %w", err)
	}
	a, err := s.ask(ctx, req)
	s.journal(req, a, err)
	if err != nil {
		return s.refusal(ss, err, fail), nil
	}
	st := Step{Result: Result{Outcome: Nothing, Code: doneCode(in.Trade), CardNo: ss.cardNo, Balance: ss.balance}}
	st.Statement = statementOf(a)
	if in.Trade == protocol.TradeCloseAccount {
		st.Refund = a.Refund
	}
	for _, w := range a.Writes {
		var r cardwrite.Result
		switch w.Field {
		case protocol.FieldPIN:
			r = s.writes.ApplyPIN(ctx, c, w, in.PIN, in.NewPIN)
		case protocol.FieldPINReload:
			r = s.writes.ApplyPINReload(ctx, c, w, in.NewPIN, op)
		default:
			r = s.writes.Apply(ctx, c, w, op)
		}
		st.Writes = append(st.Writes, WriteStep{WriteID: r.WriteID, Field: r.Field.String(), Outcome: r.Outcome.String(), Acked: r.Acked})
		switch r.Outcome {
		case protocol.OutcomeWritten:
			if w.Field == protocol.FieldStatus {
				c.Public.Status, c.Blocked = w.CardStatus, false
			}
			continue
		case protocol.OutcomeTornUnknown:
			st.Outcome, st.Code = TapAgain, CodeWriteTorn
		case 0: // the intent could not be kept: the card was not touched
			st.Outcome, st.Code = Refused, CodeStoreFault
		default:
			st.Outcome, st.Code = Refused, CodeWriteFailed
		}
		s.log.Warn("kiosk: card write not done", "write", r.WriteID, "outcome", r.Outcome.String(), "err", r.Err)
		break
	}
	st.Message = withBalance(sessionMessageOf(st.Code), ss.balance)
	return st, nil
}

// balanceProof verifies the card's system PIN (the desk's PSAM) and has
// the card answer INITIALIZE FOR LOAD of 1 fen: its MAC1 proves the
// balance. No CREDIT follows: nothing moves on the card.
func (s *Sessions) balanceProof(ctx context.Context, ss *session, c cardwrite.Card) (*protocol.LoadInit, error) {
	tid, err := s.k.sam.TerminalID(ctx)
	if err != nil {
		return nil, fmt.Errorf("terminal id: %w", err)
	}
	pin, err := s.k.sam.SystemPIN(ctx, epurse.SystemPINRequest{CardSerial: c.Ref.Serial, KeyVersion: c.Ref.KeyVersion, Algorithm: c.Ref.Algorithm})
	if err != nil {
		return nil, fmt.Errorf("system PIN: %w", err)
	}
	err = epurse.VerifySystemPIN(ctx, ss.card, pin)
	clear(pin)
	if err != nil {
		return nil, err
	}
	keyIndex := byte(s.k.cfg.KeyIndex)
	li, err := epurse.InitializeForLoad(ctx, ss.card, keyIndex, 1, tid)
	if err != nil {
		return nil, err
	}
	dt := epurse.NewDateTime(s.k.now().In(s.k.loc))
	return &protocol.LoadInit{CardNo: ss.cardNo, CardSerial: c.Ref.Serial[:], TerminalID: tid[:], OnlineCounter: li.OnlineCounter,
		BalanceBefore: int64(li.Balance), Amount: 1, KeyIndex: keyIndex, KeyVersion: li.KeyVersion, Algorithm: byte(li.Algorithm),
		Random: li.Random[:], MAC1: li.MAC1[:], TxTime: dt[:]}, nil
}

// WriteStep is one card write of a step, as the API answers it.
type WriteStep struct {
	WriteID string `json:"write_id"`
	Field   string `json:"field"`
	Outcome string `json:"outcome"`
	// Acked: the ledger took the outcome (false: reported later).
	Acked bool `json:"acked"`
}

// Statement is what 查询 answers: the account's balance and last
// movements (fen).
type Statement struct {
	Account   string              `json:"account,omitempty"`
	Balance   int64               `json:"balance"`
	Loadable  int64               `json:"loadable"`
	TxLimit   int64               `json:"tx_limit"`
	ValidTill string              `json:"valid_until,omitempty"`
	Movements []protocol.Movement `json:"movements,omitempty"`
	Order     *protocol.FeeOrder  `json:"order,omitempty"`
}

func statementOf(a protocol.ServiceAnswer) *Statement {
	if a.Trade != protocol.TradeStatement && a.Trade != protocol.TradePayFee {
		return nil
	}
	return &Statement{Account: a.Account, Balance: a.Balance, Loadable: a.Loadable, TxLimit: a.TxLimit, ValidTill: a.ValidUntil,
		Movements: a.Movements, Order: a.Order}
}

func doneCode(t protocol.Trade) ui.Code {
	switch t {
	case protocol.TradeChangePIN:
		return CodePINChanged
	case protocol.TradeSetLimit:
		return CodeLimitSet
	case protocol.TradeReportLoss:
		return CodeLossReported
	case protocol.TradeUnfreeze:
		return CodeUnfrozen
	case protocol.TradeReactivate:
		return CodeReactivated
	case protocol.TradePayFee:
		return CodeFeePaid
	case protocol.TradeResetPIN:
		return CodePINReset
	case protocol.TradeUnblock:
		return CodeUnblocked
	case protocol.TradeCloseAccount:
		return CodeAccountClosed
	}
	return CodeStatement
}

// ask sends the trade, once more on a retryable failure (the ledger
// answers the same request id the same).
func (s *Sessions) ask(ctx context.Context, req protocol.ServiceRequest) (protocol.ServiceAnswer, error) {
	var a protocol.ServiceAnswer
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.LedgerTimeout.D())
		a, err = s.svc.Service(lctx, req)
		cancel()
		if err == nil || !retryable(err) {
			break
		}
	}
	return a, err
}

// refusal is the step of a trade the ledger refused or did not answer.
func (s *Sessions) refusal(ss *session, err error, fail func(ui.Code) Step) Step {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		s.log.Warn("kiosk: service: the ledger did not answer", "card", ss.cardNo, "err", err)
		return fail(load.CodeLedgerOffline)
	}
	st := fail(load.RefusalCode(pe.Code))
	zh, en := protocol.ErrorText(pe, s.k.loc)
	st.Message = withBalance(ui.Custom(st.Code, zh, en), ss.balance)
	st.TriesLeft = pe.TriesLeft
	return st
}

// verifyPIN has the card check the holder's PIN.
func (s *Sessions) verifyPIN(ctx context.Context, ss *session, pin string, fail func(ui.Code) Step) (Step, bool) {
	err := epurse.VerifyPIN(ctx, ss.card, pin)
	var pe *epurse.PINError
	switch {
	case err == nil:
		return Step{}, true
	case errors.As(err, &pe) && pe.Retries > 0:
		st := fail(CodeWrongPIN)
		st.TriesLeft, st.Message = pe.Retries, ui.WrongPIN(pe.Retries)
		return st, false
	case errors.As(err, &pe), errors.Is(err, epurse.ErrLocked):
		return fail(CodePINLocked), false
	case epurse.Transient(err):
		return Step{Result: tapAgain(ss.cardNo, CodeTapAgain)}, false
	}
	s.log.Warn("kiosk: VERIFY failed", "card", ss.cardNo, "err", err)
	return fail(CodeCardRefused), false
}

// cardForWrite reads what a card write needs: files 0x15 and 0x12, the
// keys' reference, and whether the application is blocked.
func (s *Sessions) cardForWrite(ctx context.Context, ss *session) (cardwrite.Card, bool, error) {
	return readWriteCard(ctx, s.k, ss.card)
}

// readWriteCard selects the card's application and reads a card write's
// inputs. A blocked application (6A81) is selected all the same: its
// reads stay open; its key version then comes from the kiosk's key index
// default (INITIALIZE is refused on a blocked application).
func readWriteCard(ctx context.Context, k *Kiosk, card reader.Card) (cardwrite.Card, bool, error) {
	info, err := cardread.ReadIdentity(ctx, card, k.aids)
	blocked := errors.Is(err, epurse.ErrAppBlocked)
	if err != nil && !blocked {
		return cardwrite.Card{}, false, err
	}
	pub := info.Public
	if blocked {
		if pub, err = epurse.ReadPublicData(ctx, card); err != nil {
			return cardwrite.Card{}, true, err
		}
	}
	c := cardwrite.Card{Card: card, Public: pub, Blocked: blocked}
	if cd, err := epurse.ReadCampusData(ctx, card); err == nil {
		c.Campus = cd
	}
	ref := epurse.CardRef{Serial: pub.Factor(), KeyVersion: 1}
	if !blocked {
		tid, err := k.sam.TerminalID(ctx)
		if err != nil {
			return cardwrite.Card{}, false, fmt.Errorf("kiosk: terminal id: %w", err)
		}
		if ref, err = epurse.ReadCardRef(ctx, card, tid, pub.Factor()); err != nil {
			return cardwrite.Card{}, false, err
		}
	}
	c.Ref = ref
	return c, blocked, nil
}

// ReportLoss is 挂失 without the card (no session needed): the holder's
// student or staff number and PIN, checked at the ledger, which lists the
// card lost from its next status list on. The PIN is never logged.
func (s *Sessions) ReportLoss(ctx context.Context, account, pin string) (Step, error) {
	if err := checkInput(ServiceInput{Trade: protocol.TradeReportLoss, PIN: pin}); err != nil {
		return Step{}, err
	}
	if account == "" || len(account) > protocol.MaxAccountIDLen {
		return Step{}, fmt.Errorf("%w: the student or staff number", ErrBadRequest)
	}
	fail := func(c ui.Code) Step {
		r := refused("", c)
		r.Message = sessionMessageOf(c)
		return Step{Result: r}
	}
	st := Step{Service: protocol.TradeReportLoss.String()}
	op := s.Operator()
	if s.desk && op == "" {
		return Step{}, ErrNoOperator
	}
	if s.svc == nil {
		st = fail(CodeNoServices)
	} else {
		req := protocol.ServiceRequest{RequestID: make([]byte, protocol.RequestIDSize), Trade: protocol.TradeReportLoss,
			Account: account, PIN: protocol.SecretPIN(pin), Operator: op}
		if _, err := rand.Read(req.RequestID); err != nil {
			return fail(CodeStoreFault), fmt.Errorf("kiosk: service request id: %w", err)
		}
		a, err := s.ask(ctx, req)
		s.journal(req, a, err)
		if err != nil {
			st = s.refusal(&session{}, err, fail)
		} else {
			st.Result = Result{Outcome: Nothing, Code: CodeLossReported, CardNo: a.CardNo, Message: sessionMessageOf(CodeLossReported)}
		}
	}
	st.Service = protocol.TradeReportLoss.String()
	s.k.show(ctx, st.Message)
	s.log.Info("kiosk: report loss", "account", account, "code", string(st.Code), "card", st.CardNo)
	return st, nil
}
