package rig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openykt/yktd/terminal"
)

// A control step sends one request to a device's control interface with
// the credential, as the device's own page or the cashier's terminal
// does: POST /v1/cancel-last with the cashier's PIN, the kiosk's session
// steps (POST /v1/kiosk/claim with {session.NAME}). expect.status and
// expect.response check the answer.

// ctlResult is a control request's answer.
type ctlResult struct {
	status int
	body   []byte
}

// parseControl reads "METHOD /path".
func parseControl(s string) (method, path string, err error) {
	method, path, ok := strings.Cut(strings.TrimSpace(s), " ")
	path = strings.TrimSpace(path)
	switch {
	case !ok || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\n"):
		return "", "", fmt.Errorf("control %q: want a method and a path: \"POST /v1/cancel-last\"", s)
	case method != http.MethodGet && method != http.MethodPost && method != http.MethodDelete:
		return "", "", fmt.Errorf("control %q: method %s: want GET, POST or DELETE", s, method)
	}
	return method, path, nil
}

// control sends the step's request; an answer that is not 200 fails the
// step unless the step expects its status.
func (r *scenarioRun) control(ctx context.Context, d *device, s *Step) error {
	if err := d.need(); err != nil {
		return err
	}
	method, path, _ := parseControl(s.Control)
	path, err := r.expand(path)
	if err != nil {
		return err
	}
	var body any
	if s.Body != nil {
		if body, err = r.expandAny(s.Body); err != nil {
			return err
		}
	}
	return r.send(ctx, d, method, path, body, s.Expect.Status != nil)
}

// send makes a control request and keeps its answer for the step's
// expectations. The timeline shows the answer, never the request (it may
// carry a PIN); an answer that is not 200 fails unless expected.
func (r *scenarioRun) send(ctx context.Context, d *device, method, path string, body any, statusExpected bool) error {
	var err error
	var raw jsonRaw
	res := &ctlResult{status: http.StatusOK}
	switch method {
	case http.MethodGet:
		err = d.ctl.Get(ctx, path, &raw)
	case http.MethodPost:
		err = d.ctl.Post(ctx, path, body, &raw)
	default:
		err = d.ctl.Delete(ctx, path)
	}
	var ce *terminal.ControlError
	switch {
	case errors.As(err, &ce):
		res.status, res.body = ce.Status, ce.Body
	case err != nil:
		return err
	default:
		res.body = raw
	}
	r.lastCtl = res
	// The answer, never the request: a request may carry a PIN.
	r.tl.add("info", "%s %s at %s: %d %s", method, path, d.spec.Name, res.status, lastLines(strings.TrimSpace(string(res.body)), 3))
	if res.status != http.StatusOK && !statusExpected {
		return fmt.Errorf("rig: %s %s at %s: %d: %s", method, path, d.spec.Name, res.status, strings.TrimSpace(string(res.body)))
	}
	return nil
}

// kiosk sends a kiosk step: POST /v1/kiosk/service with the trade on the
// session of the card in d's reader, or POST /v1/kiosk/report-loss.
func (r *scenarioRun) kiosk(ctx context.Context, d *device, s *Step) error {
	if err := d.need(); err != nil {
		return err
	}
	k := s.Kiosk
	if k.ReportLoss != "" {
		account, err := r.expand(k.ReportLoss)
		if err != nil {
			return err
		}
		return r.send(ctx, d, http.MethodPost, "/v1/kiosk/report-loss", map[string]string{"account": account, "pin": k.PIN}, s.Expect.Status != nil)
	}
	session := k.Session
	if session == "" {
		session = "{session." + d.spec.Name + "}"
	}
	session, err := r.expand(session)
	if err != nil {
		return err
	}
	body := map[string]any{"session": session, "trade": k.Trade, "pin": k.PIN}
	for key, v := range map[string]string{"new_pin": k.NewPIN, "national_id": k.NationalID, "order_id": k.OrderID,
		"service": k.Service, "reference": k.Reference} {
		if v != "" {
			body[key] = v
		}
	}
	if k.TxLimit != nil {
		body["tx_limit"] = *k.TxLimit
	}
	if k.Amount != 0 {
		body["amount"] = k.Amount
	}
	if k.Count != 0 {
		body["count"] = k.Count
	}
	return r.send(ctx, d, http.MethodPost, "/v1/kiosk/service", body, s.Expect.Status != nil)
}

// kioskSession returns the id of the kiosk session open on d (the card in
// its reader), for {session.NAME}.
func (r *scenarioRun) kioskSession(d *device) (string, error) {
	if err := d.need(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v struct {
		State string `json:"state"`
		ID    string `json:"id"`
	}
	if err := d.ctl.Get(ctx, "/v1/kiosk", &v); err != nil {
		return "", fmt.Errorf("rig: %s's kiosk session: %w", d.spec.Name, err)
	}
	if v.ID == "" {
		return "", fmt.Errorf("rig: %s has no kiosk session open (state %q): place a card first", d.spec.Name, v.State)
	}
	return v.ID, nil
}
