package config

import (
	"errors"
	"testing"
	"time"
)

// minimalPOS (cashier_test.go) ends in its [pos] section.

// TestPOSClaimDefaults: unset, the POS claims and asks the ledger for at
// most 300ms; claim_loads = false and a chosen timeout are kept.
func TestPOSClaimDefaults(t *testing.T) {
	c, err := Parse([]byte(minimalPOS))
	if err != nil {
		t.Fatal(err)
	}
	if !c.POS.Claims() || c.POS.ClaimTimeout.D() != 300*time.Millisecond {
		t.Fatalf("defaults: claims %v, timeout %s", c.POS.Claims(), c.POS.ClaimTimeout.D())
	}
	c, err = Parse([]byte(minimalPOS + "claim_loads = false\nclaim_timeout = \"150ms\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.POS.Claims() || c.POS.ClaimTimeout.D() != 150*time.Millisecond {
		t.Fatalf("set: claims %v, timeout %s", c.POS.Claims(), c.POS.ClaimTimeout.D())
	}
	c, err = Parse([]byte(minimalPOS + "claim_loads = true\n"))
	if err != nil || !c.POS.Claims() {
		t.Fatalf("claim_loads = true: %+v %v", c, err)
	}
}

// TestPOSClaimTimeoutRefused: a timeout that would hold the queue, or a
// negative one, is refused.
func TestPOSClaimTimeoutRefused(t *testing.T) {
	if _, err := Parse([]byte(minimalPOS + "claim_timeout = \"11s\"\n")); !errors.Is(err, ErrInvalid) {
		t.Errorf("claim_timeout = 11s: %v, want ErrInvalid", err)
	}
	if _, err := Parse([]byte(minimalPOS + "claim_timeout = \"-1ms\"\n")); err == nil {
		t.Error("claim_timeout = -1ms accepted")
	}
}
