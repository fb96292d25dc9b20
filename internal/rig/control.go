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
	if res.status != http.StatusOK && s.Expect.Status == nil {
		return fmt.Errorf("rig: %s %s at %s: %d: %s", method, path, d.spec.Name, res.status, strings.TrimSpace(string(res.body)))
	}
	return nil
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
