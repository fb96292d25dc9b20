package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/openykt/yktd/protocol"
)

// Content types of the HTTP bodies.
const (
	ContentTypeCOSE  = `application/cose; cose-type="cose-sign1"`
	ContentTypeError = "application/cbor"
)

// maxSmallBody bounds the body of every request but a batch.
const maxSmallBody = 8 << 10

// Server serves the ledger's /v1/ endpoints (all POST, bodies COSE_Sign1;
// see the wire contract in docs/protocol.md): enrol, batches, status,
// rules, pending, loads/init, loads/confirm. Requests are signed by the
// device key (kid = device id, external AAD = device id); answers are
// signed by the ledger key with the same AAD; errors are an unsigned CBOR
// protocol.Error with an HTTP 4xx/5xx status.
type Server struct {
	l      *Ledger
	signer *protocol.Signer
	mux    *http.ServeMux
	log    *slog.Logger
	lim    *limits
}

// NewServer returns the HTTP handler of l.
func NewServer(l *Ledger) (*Server, error) {
	signer, err := protocol.NewSigner(l.kid, protocol.AlgEd25519, l.key.Seed())
	if err != nil {
		return nil, fmt.Errorf("ledger: server: %w", err)
	}
	s := &Server{l: l, signer: signer, mux: http.NewServeMux(), log: l.log, lim: newLimits(&l.opts)}
	s.mux.HandleFunc("POST /v1/enrol", s.enrol)
	s.mux.HandleFunc("POST /v1/batches", s.batches)
	s.mux.HandleFunc("POST /v1/status", s.status)
	s.mux.HandleFunc("POST /v1/rules", s.rules)
	s.mux.HandleFunc("POST /v1/pending", s.pending)
	s.mux.HandleFunc("POST /v1/loads/init", s.loadInit)
	s.mux.HandleFunc("POST /v1/loads/confirm", s.loadConfirm)
	s.mux.HandleFunc("POST "+protocol.PathLoadStatus, s.loadStatus)
	s.mux.HandleFunc("POST "+protocol.PathLoadProbe, s.loadProbe)
	s.mux.HandleFunc("POST "+protocol.PathClaims, s.claims)
	s.mux.HandleFunc("POST "+protocol.PathTransfer, s.transfer)
	s.mux.HandleFunc("POST "+protocol.PathServices, s.services)
	s.mux.HandleFunc("POST "+protocol.PathCardWritesPending, s.pendingWrites)
	s.mux.HandleFunc("POST "+protocol.PathCardWriteReport, s.cardWriteReport)
	s.mux.HandleFunc("POST "+protocol.PathCardWriteMAC, s.cardWriteMAC)
	return s, nil
}

// ServeHTTP serves one request within the server's limits (Options
// MaxRequests, MaxBodyMemory, BodyTimeout): beyond them it answers
// rate-limited at once. A panic in a handler is logged and answered as an
// internal error instead of dropping the connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.lim.enter() {
		s.overloaded(w, "too many requests at once")
		return
	}
	defer s.lim.leave()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.fail(w, "", fmt.Errorf("ledger: panic: %v", v))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// deviceKeys is the KeySet of enrolled, not revoked devices.
type deviceKeys struct{ l *Ledger }

// PublicKey returns the key of an active device, or the protocol error
// (unknown-device, revoked) to answer. A registry that cannot be read
// (database closed at shutdown, I/O error, a damaged entry) is internal,
// which the device retries: unknown-device would make it stop syncing.
func (k deviceKeys) PublicKey(kid string) (protocol.PublicKey, error) {
	return k.l.enrolledKey(kid, false)
}

// collectKeys is the KeySet of /v1/batches: enrolled devices, revoked ones
// included, so that a revoked device's remaining records are collected
// (checked against the key it enrolled; nothing else of it is trusted).
type collectKeys struct{ l *Ledger }

// PublicKey returns the enrolled key of kid, revoked or not (see
// deviceKeys for the errors).
func (k collectKeys) PublicKey(kid string) (protocol.PublicKey, error) {
	return k.l.enrolledKey(kid, true)
}

// enrolledKey returns the key device kid enrolled, or the protocol error
// to answer: unknown-device, revoked (unless revoked devices are
// collected), internal for a registry that cannot be read.
func (l *Ledger) enrolledKey(kid string, revokedToo bool) (protocol.PublicKey, error) {
	d, err := l.Device(kid)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && d.PublicKey == nil):
		return protocol.PublicKey{}, wireError(fmt.Errorf("ledger: device %q: %w", kid, ErrUnknownDevice))
	case err != nil:
		return protocol.PublicKey{}, protocol.Errorf(protocol.CodeInternal, "device registry: %w", err)
	case !revokedToo && !d.Revoked.IsZero():
		return protocol.PublicKey{}, wireError(fmt.Errorf("ledger: device %q: %w", kid, ErrRevoked))
	}
	return protocol.PublicKey{KeyID: d.ID, Alg: d.Alg, Key: d.PublicKey}, nil
}

// reply seals m for device (signed by the ledger key, AAD = device id) and
// writes it with status 200.
func (s *Server) reply(w http.ResponseWriter, device string, m protocol.Message) {
	msg, err := protocol.Seal(s.signer, m, device)
	if err != nil {
		s.fail(w, device, fmt.Errorf("ledger: seal %s: %w", m.ContentType(), err))
		return
	}
	w.Header().Set("Content-Type", ContentTypeCOSE)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(msg)
}

// fail writes err as a protocol Error with its HTTP status.
func (s *Server) fail(w http.ResponseWriter, device string, err error) {
	if errors.Is(err, errBusy) {
		s.overloaded(w, "body memory budget exhausted")
		return
	}
	pe := wireError(err)
	status := httpStatus(pe.Code)
	if pe.Code == protocol.CodeInternal {
		s.log.Error("request failed", "device", device, "err", err)
		pe = &protocol.Error{Code: protocol.CodeInternal, Message: "internal error"}
	} else {
		s.log.Info("request refused", "device", device, "code", pe.Code.String(), "err", pe.Message)
	}
	body, eerr := protocol.EncodeError(pe)
	if eerr != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentTypeError)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	b, release, err := s.readBody(w, r, protocol.MaxEnrolSize+protocol.MaxEnvelopeOverhead, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	// Proof of possession: signed by the key it enrols, kid = AAD = device id.
	req, err := protocol.OpenEnrolRequest(b)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	d, err := s.l.Enrol(EnrolParams{DeviceID: req.DeviceID, Token: req.Token, PublicKey: req.PublicKey, Alg: req.Alg, Kind: req.Kind.String(), Site: req.Site,
		Firmware: req.Firmware, TerminalID: req.TerminalID})
	if err != nil {
		s.fail(w, req.DeviceID, err)
		return
	}
	s.reply(w, req.DeviceID, &protocol.EnrolResponse{
		DeviceID: req.DeviceID, LedgerKeyID: s.l.kid, LedgerKey: s.l.PublicKey(), LedgerAlg: protocol.AlgEd25519,
		ServerTime: s.l.now().UnixMilli(), Held: d.HeldCode(),
	})
}

func (s *Server) batches(w http.ResponseWriter, r *http.Request) {
	// The kid first: a body that is no enrolled device's is not read.
	raw, release, err := s.readBody(w, r, protocol.MaxBatchSize+protocol.MaxEnvelopeOverhead, collectKeys{s.l})
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	b, dev, err := protocol.OpenFromDevice[protocol.Batch](collectKeys{s.l}, raw)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	ack, err := s.l.Intake(b)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &ack)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.StatusRequest](servedKeys{s.l}, raw)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	ans, err := s.l.Status(req.Have)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	items := make([]protocol.StatusItem, len(ans.Entries))
	for i, e := range ans.Entries {
		items[i] = protocol.StatusItem{Card: e.CardNo, Reason: e.Reason, Since: e.Since}
	}
	switch {
	case ans.Version == 0 || (!ans.Snapshot && ans.From == ans.Version):
		w.WriteHeader(http.StatusNoContent) // nothing newer than what the device holds
	case ans.Snapshot:
		s.reply(w, dev, &protocol.StatusSnapshot{Version: ans.Version, Entries: items, Digest: ans.Digest[:]})
	default:
		s.reply(w, dev, &protocol.StatusDelta{From: ans.From, To: ans.Version, Changes: items, Digest: ans.Digest[:]})
	}
}

func (s *Server) rules(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.RulesRequest](servedKeys{s.l}, raw)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	rules, current, err := s.l.Rules(req.Have)
	if errors.Is(err, ErrNotFound) || (err == nil && current) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &rules)
}

func (s *Server) pending(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.PendingRequest](servedKeys{s.l}, raw)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	loads, err := s.l.PendingLoads(req.CardNo)
	var claims protocol.Claims
	if err == nil {
		claims, err = s.l.Claims(req.CardNo, 0)
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	out := protocol.Pending{CardNo: req.CardNo, Loads: []protocol.PendingLoad{}}
	if claims.Account != "" && claims.Claimable > 0 {
		// A card with an account: what the account holds for loading, as
		// one entry (LoadInit claims any amount of it; see /v1/claims).
		out.Loads = append(out.Loads, protocol.PendingLoad{LoadID: "account:" + claims.Account, Amount: claims.Claimable, Created: s.l.now().UnixMilli()})
	}
	for _, ld := range loads[:min(len(loads), protocol.MaxPendingLoads)] {
		out.Loads = append(out.Loads, protocol.PendingLoad{LoadID: loadID(ld.ID), Amount: ld.Amount, Created: ld.Created.UnixMilli()})
	}
	s.reply(w, dev, &out)
}

func (s *Server) claims(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.ClaimRequest](servedKeys{s.l}, raw)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	c, err := s.l.Claims(req.CardNo, req.CardBalance)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &c)
}

func (s *Server) transfer(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.TransferRequest](servedKeys{s.l}, raw)
	if err == nil {
		var d Device
		if d, err = s.l.Device(dev); err == nil && d.Kind != "kiosk" {
			err = protocol.Errorf(protocol.CodeMalformed, "transfer: device %s is a %s: only a kiosk takes a holder's PIN for a transfer", dev, d.Kind)
		}
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	rec, acct, err := s.l.Transfer(r.Context(), TransferParams{DeviceID: dev, CardNo: req.CardNo, RequestID: req.RequestID, Amount: req.Amount, PIN: req.PIN})
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &protocol.TransferResponse{TransferID: rec.ID, Amount: rec.Amount, Loadable: acct.Loadable, BankRef: rec.BankRef})
}

// readLoadInit reads a device's signed LoadInit (for /v1/loads/init and
// /v1/loads/probe) as the ledger's parameters; on an error it has
// answered already.
func (s *Server) readLoadInit(w http.ResponseWriter, r *http.Request) (LoadInitParams, string, bool) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return LoadInitParams{}, "", false
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.LoadInit](deviceKeys{s.l}, raw)
	if err == nil && (req.Amount > 0xFFFFFFFF || req.BalanceBefore > 0xFFFFFFFF) {
		err = protocol.Errorf(protocol.CodeMalformed, "load init: amount or balance beyond 32 bits")
	}
	if err != nil {
		s.fail(w, dev, err)
		return LoadInitParams{}, dev, false
	}
	return LoadInitParams{
		DeviceID: dev, CardNo: req.CardNo, CardSerial: [8]byte(req.CardSerial), TerminalID: [6]byte(req.TerminalID),
		OnlineCounter: req.OnlineCounter, BalanceBefore: uint32(req.BalanceBefore), Amount: uint32(req.Amount),
		KeyIndex: req.KeyIndex, KeyVersion: req.KeyVersion, Algorithm: req.Algorithm,
		Random: [4]byte(req.Random), MAC1: [4]byte(req.MAC1), TxTime: req.TxTime,
	}, dev, true
}

func (s *Server) loadInit(w http.ResponseWriter, r *http.Request) {
	p, dev, ok := s.readLoadInit(w, r)
	if !ok {
		return
	}
	if err := s.l.CheckLoadTerminal(dev, p.TerminalID[:]); err != nil {
		s.fail(w, dev, err)
		return
	}
	res, err := s.l.InitLoad(p)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &protocol.LoadInitResponse{LoadID: loadID(res.LoadID), Amount: int64(res.Amount), TxTime: res.TxTime[:], MAC2: res.MAC2[:]})
}

func (s *Server) loadConfirm(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.LoadConfirm](deviceKeys{s.l}, raw)
	var id uint64
	if err == nil {
		id, err = parseLoadID(req.LoadID)
	}
	if err == nil && req.BalanceAfter > 0xFFFFFFFF {
		err = protocol.Errorf(protocol.CodeMalformed, "load confirm: balance beyond 32 bits")
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	ld, err := s.l.ConfirmLoad(LoadConfirmParams{DeviceID: dev, LoadID: id, CardNo: req.CardNo, OnlineCounter: req.OnlineCounter,
		TAC: [4]byte(req.TAC), BalanceAfter: uint32(req.BalanceAfter)})
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &protocol.LoadConfirmResponse{LoadID: loadID(ld.ID), State: wireLoadState(ld.State)})
}

func (s *Server) loadProbe(w http.ResponseWriter, r *http.Request) {
	p, dev, ok := s.readLoadInit(w, r)
	if !ok {
		return
	}
	c, err := s.l.ProbeLoad(p)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &c)
}

func (s *Server) loadStatus(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.LoadStatusRequest](deviceKeys{s.l}, raw)
	var id uint64
	if err == nil {
		id, err = parseLoadID(req.LoadID)
	}
	var st protocol.LoadState
	if err == nil {
		st, err = s.l.LoadStatus(dev, id, req.CardNo)
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &protocol.LoadConfirmResponse{LoadID: req.LoadID, State: st})
}

func loadID(id uint64) string { return strconv.FormatUint(id, 10) }

func parseLoadID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, protocol.Errorf(protocol.CodeNoPendingLoad, "unknown load id %q", s)
	}
	return id, nil
}

func wireLoadState(s string) protocol.LoadState {
	switch s {
	case LoadPending:
		return protocol.LoadPending
	case LoadAuthorised:
		return protocol.LoadInitiated
	case LoadVoided, LoadCancelled:
		return protocol.LoadCancelled
	default:
		return protocol.LoadCompleted
	}
}
