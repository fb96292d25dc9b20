package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openykt/yktd/ledger"
)

// quietLogger logs warnings and errors of the operator commands to stderr.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr, nil)
}

// serve runs the ledger until ctx ends; ready, if not nil, is called with
// the listening address once both listeners are up.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs, data := newFlags("serve", stderr)
	listen := fs.String("listen", "127.0.0.1:8470", "address of the /v1/ endpoints")
	keys := fs.String("issuer-keys", "", "issuer master key file (JSON, mode 0600; the SAM key file format) for TAC and load MAC checks")
	cert := fs.String("tls-cert", "", "TLS certificate file (with --tls-key)")
	key := fs.String("tls-key", "", "TLS key file (with --tls-cert)")
	maxReq := fs.Int("max-requests", ledger.DefaultMaxRequests, "requests served at once; more are answered rate-limited (429)")
	maxBody := fs.Int("max-body-mib", ledger.DefaultMaxBodyMemory>>20, "MiB of request bodies held at once; more are answered rate-limited (429)")
	bodyTimeout := fs.Duration("body-timeout", ledger.DefaultBodyTimeout, "how long a request body may take to arrive")
	maxOffline := fs.Duration("max-offline", ledger.DefaultMaxOffline, "the devices' sync.max_offline: a replaced card with a counter gap has its balance released after it")
	tz := fs.String("timezone", "Asia/Shanghai", "the campus time zone, the devices' device.timezone: a kiosk's load time is read in it")
	clockOffset := fs.Duration("clock-offset", 0, "run the ledger's clock this far from the system's (drills and the rig's scenarios: \"24 hours later\"); never in production")
	if err := parse(fs, data, args, 0, "no arguments"); err != nil {
		return err
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError("serve: --timezone %q: %v", *tz, err)
	}
	if (*cert == "") != (*key == "") {
		return usageError("serve: --tls-cert and --tls-key go together")
	}
	if *maxOffline <= 0 {
		return usageError("serve: --max-offline positive")
	}
	if *maxReq < 1 || *maxBody < 2 || *bodyTimeout <= 0 {
		return usageError("serve: --max-requests at least 1, --max-body-mib at least 2 (a batch is 1 MiB), --body-timeout positive")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	opts := ledger.Options{Logger: log, MaxRequests: *maxReq, MaxBodyMemory: int64(*maxBody) << 20, BodyTimeout: *bodyTimeout, MaxOffline: *maxOffline,
		Location: loc}
	if off := *clockOffset; off != 0 {
		log.Warn("the ledger's clock is offset from the system's", "offset", off.String())
		opts.Now = func() time.Time { return time.Now().Add(off) }
	}
	if *keys != "" {
		k, err := ledger.ReadIssuerKeys(*keys)
		if err != nil {
			return err
		}
		opts.IssuerKeys = k
	} else {
		log.Warn("no --issuer-keys: purchase TACs are reported unverifiable and loads refused")
	}
	l, err := ledger.Open(*data, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	srv, err := ledger.NewServer(l)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	sockPath := filepath.Join(*data, ledger.AdminSocket)
	_ = os.Remove(sockPath) // a stale socket of a previous run: we hold the database lock
	old := syscall.Umask(0o077)
	adm, err := net.Listen("unix", sockPath)
	syscall.Umask(old)
	if err != nil {
		ln.Close()
		return fmt.Errorf("serve: admin socket: %w", err)
	}
	defer os.Remove(sockPath)

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 5 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	as := &http.Server{Handler: ledger.AdminHandler(l), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() {
		if *cert != "" {
			errc <- hs.ServeTLS(ln, *cert, *key)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	go func() { errc <- as.Serve(adm) }()
	rctx, stopResume := context.WithCancel(ctx)
	resumed := make(chan struct{})
	go func() { defer close(resumed); resumeTransfers(rctx, l, log) }()
	defer func() { stopResume(); <-resumed }() // before l.Close
	log.Info("ledger serving", "listen", ln.Addr().String(), "tls", *cert != "", "data", *data, "kid", l.KeyID(),
		"fingerprint", l.Fingerprint(), "admin", sockPath, "version", version)
	fmt.Fprintf(stdout, "ledgerd serving on %s (kid %s)\nledger key %s (a device's sync.ledger_key)\n", ln.Addr(), l.KeyID(), l.Fingerprint())
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
		log.Info("ledger stopping")
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	_ = as.Shutdown(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// resumeTransfers finishes the bank transfers a previous run left
// requested (the bank may have debited the holder), at start and every
// ledger.ResumeInterval, until ctx ends.
func resumeTransfers(ctx context.Context, l *ledger.Ledger, log *slog.Logger) {
	t := time.NewTicker(ledger.ResumeInterval)
	defer t.Stop()
	for {
		if _, err := l.ResumeTransfers(ctx); err != nil && ctx.Err() == nil {
			log.Warn("transfers left requested not finished yet: the bank did not answer", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
