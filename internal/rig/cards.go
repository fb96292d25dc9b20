package rig

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// issueCard writes the card's state file into dir (dir/NAME.json): issued
// with the test keys of reader/sam, as the demo cards are, then given the
// counters and PIN tries the scenario asks for.
func issueCard(dir string, c *CardSpec, now time.Time) error {
	start, err := resolveDate(c.Start, now)
	if err != nil {
		return err
	}
	expiry, err := resolveDate(c.Expiry, now)
	if err != nil {
		return err
	}
	p := sim.Profile{
		CardNo: c.No, Issuer: sim.DemoIssuer, Class: c.Class.Value, Status: byte(c.Status), StatusListVersion: 1,
		Start: start, Expiry: expiry, Algorithm: epurse.AlgDES, KeyVersion: 1, KeyIndex: 1, PIN: c.PIN,
		Overdraft: uint32(c.Overdraft),
	}
	kf := sam.TestKeys()
	card, err := sim.NewCard(p, kf.Keys[p.KeyVersion], uint32(*c.Balance))
	if err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	path := filepath.Join(dir, c.Name+".json")
	if err := card.Save(path); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	if c.OfflineCounter == 0 && c.OnlineCounter == 0 && c.PINTries == nil {
		return nil
	}
	// The counters and tries are EEPROM state a fresh card starts without:
	// set them in the state file (reader/sim's format), then check it loads.
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	st["offline_counter"], st["online_counter"] = c.OfflineCounter, c.OnlineCounter
	if c.PINTries != nil {
		st["pin_tries"] = *c.PINTries
	}
	if b, err = json.MarshalIndent(st, "", "  "); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	if _, err := sim.LoadCard(path); err != nil {
		return fmt.Errorf("rig: card %s: %w", c.Name, err)
	}
	return nil
}

// cardStatus reads a card's state from its file, where every device that
// holds it writes each change before the card answers.
func cardStatus(dir, name string) (sim.Status, error) {
	c, err := sim.LoadCard(filepath.Join(dir, name+".json"))
	if err != nil {
		return sim.Status{}, err
	}
	return c.Status(), nil
}
