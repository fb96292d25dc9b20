package main

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sim"
)

// simControl serves, on the control interface, the virtual readers of a
// configuration (driver "sim") with the virtual cards saved in
// dataDir/cards (NAME.json, as `yktd run --sim --dir` keeps them; every
// change is written back): the rig drives a configured device the way it
// drives the simulator (/sim/readers/NAME/tap {"card": NAME}). It returns
// nil when no reader is virtual; a card file that does not load is logged
// and left out.
func simControl(rs []reader.Reader, dataDir string, log *slog.Logger) http.Handler {
	ctl := sim.NewControl()
	n := 0
	for _, r := range rs {
		if sr, ok := r.(*sim.Reader); ok {
			ctl.AddReader(sr)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dataDir, "cards", "*.json"))
	for _, f := range files {
		c, err := sim.LoadCard(f)
		if err != nil {
			log.Warn("virtual card not loaded", "file", f, "err", err)
			continue
		}
		ctl.AddCard(strings.TrimSuffix(filepath.Base(f), ".json"), c)
	}
	log.Warn("virtual readers: the control interface taps the virtual cards (rig only)", "readers", n, "cards", len(files))
	return ctl
}
