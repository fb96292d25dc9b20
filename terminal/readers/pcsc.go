package readers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/terminal/config"
)

// pcscReader is a configured PC/SC reader. The driver selects readers by
// name prefix; the configuration's match is a substring ("ACR122" for
// "ACS ACR122U PICC Interface 00 00"). With a match, Run resolves it
// against pcscd's reader list each time it starts, watches the first
// matching reader (in PC/SC order) and reports its events under the
// configured name; no matching reader is a transport fault, so that
// reader.Manager retries until one is plugged in. Without a match it
// watches every reader under their PC/SC names.
type pcscReader struct {
	name  string
	match string
	opts  pcsc.Options
}

func newPCSC(c config.Reader, opts Options) (*pcscReader, error) {
	be := pcsc.Pure
	if c.Backend != "" {
		var err error
		if be, err = pcsc.ParseBackend(c.Backend); err != nil {
			return nil, err
		}
	}
	if be == pcsc.Cgo && !slices.Contains(pcsc.Backends(), pcsc.Cgo) {
		return nil, fmt.Errorf("backend cgo not built in (this binary was built with CGO_ENABLED=0): use pure")
	}
	return &pcscReader{
		name:  c.Name,
		match: c.Match,
		opts:  pcsc.Options{Backend: be, Socket: opts.PCSCSocket, Log: opts.log(), Now: opts.now()},
	}, nil
}

// Name returns the configured name.
func (p *pcscReader) Name() string { return p.name }

// resolve returns the PC/SC name of the reader to watch ("" for all).
func (p *pcscReader) resolve(ctx context.Context) (string, error) {
	st, err := pcsc.ListReaders(ctx, p.opts)
	if err != nil {
		return "", err
	}
	if p.match == "" {
		return "", nil
	}
	var names []string
	for _, r := range st {
		if strings.Contains(r.Name, p.match) {
			return r.Name, nil
		}
		names = append(names, r.Name)
	}
	return "", fmt.Errorf("pcsc: no reader name contains %q (pcscd has %q): %w", p.match, names, reader.ErrTransport)
}

// Probe checks that pcscd answers and, with a match, knows a matching
// reader.
func (p *pcscReader) Probe(ctx context.Context) error {
	_, err := p.resolve(ctx)
	return err
}

// Run watches the resolved reader until ctx is done or pcscd fails.
func (p *pcscReader) Run(ctx context.Context, events chan<- reader.Event) error {
	prefix := ""
	if p.match != "" {
		var err error
		if prefix, err = p.resolve(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	r, err := pcsc.NewReader(prefix, p.opts)
	if err != nil {
		return err
	}
	if p.match == "" {
		return r.Run(ctx, events)
	}
	// Rename the events to the configured name.
	ch := make(chan reader.Event)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			e.Reader = p.name
			select {
			case events <- e:
			case <-ctx.Done():
			}
		}
	}()
	err = r.Run(ctx, ch)
	close(ch)
	<-done
	return err
}
