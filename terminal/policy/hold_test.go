package policy_test

import (
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/policy"
)

func TestDeviceStateHolds(t *testing.T) {
	now := time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	good := policy.DeviceState{StatusList: true, LastContact: now.Add(-time.Hour), MaxOffline: week}
	for _, tc := range []struct {
		name        string
		edit        func(*policy.DeviceState)
		holds       []policy.Code
		money, gate policy.Code
		kiosk       policy.Code // an online kiosk: the ledger decides, no list needed
	}{
		{"all well", nil, nil, policy.CodeOK, policy.CodeOK, policy.CodeOK},
		{"no status list", func(s *policy.DeviceState) { s.StatusList = false },
			[]policy.Code{policy.CodeNoStatusList}, policy.CodeNoStatusList, policy.CodeNoStatusList, policy.CodeOK},
		{"offline one second past the limit: gates keep their list", func(s *policy.DeviceState) { s.LastContact = now.Add(-week - time.Second) },
			[]policy.Code{policy.CodeOfflineTooLong}, policy.CodeOfflineTooLong, policy.CodeOK, policy.CodeOK},
		{"offline exactly the limit", func(s *policy.DeviceState) { s.LastContact = now.Add(-week) }, nil, policy.CodeOK, policy.CodeOK, policy.CodeOK},
		{"no contact known: no offline limit", func(s *policy.DeviceState) { s.LastContact = time.Time{} }, nil, policy.CodeOK, policy.CodeOK, policy.CodeOK},
		{"no limit configured", func(s *policy.DeviceState) { s.LastContact, s.MaxOffline = now.Add(-100*week), 0 }, nil, policy.CodeOK, policy.CodeOK, policy.CodeOK},
		{"revoked", func(s *policy.DeviceState) { s.Revoked = true },
			[]policy.Code{policy.CodeDeviceRevoked}, policy.CodeDeviceRevoked, policy.CodeDeviceRevoked, policy.CodeDeviceRevoked},
		{"chain broken: gates keep working", func(s *policy.DeviceState) { s.ChainBroken = true },
			[]policy.Code{policy.CodeChainBroken}, policy.CodeChainBroken, policy.CodeOK, policy.CodeChainBroken},
		{"case opened: no money, gates pass", func(s *policy.DeviceState) { s.Tampered = true },
			[]policy.Code{policy.CodeTampered}, policy.CodeTampered, policy.CodeOK, policy.CodeTampered},
		{"PSAM not bound: no money, no loads, gates pass", func(s *policy.DeviceState) { s.PSAMUnbound = true },
			[]policy.Code{policy.CodePSAMBinding}, policy.CodePSAMBinding, policy.CodeOK, policy.CodePSAMBinding},
		{"everything at once, most serious first", func(s *policy.DeviceState) {
			*s = policy.DeviceState{Revoked: true, ChainBroken: true, Tampered: true, PSAMUnbound: true, LastContact: now.Add(-2 * week), MaxOffline: week}
		}, []policy.Code{policy.CodeChainBroken, policy.CodeTampered, policy.CodeDeviceRevoked, policy.CodePSAMBinding, policy.CodeNoStatusList, policy.CodeOfflineTooLong},
			policy.CodeChainBroken, policy.CodeDeviceRevoked, policy.CodeChainBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			if tc.edit != nil {
				tc.edit(&s)
			}
			if got := s.Holds(now); !slices.Equal(got, tc.holds) {
				t.Errorf("Holds = %v, want %v", got, tc.holds)
			}
			if got := s.MoneyHold(now); got != tc.money {
				t.Errorf("MoneyHold = %v, want %v", got, tc.money)
			}
			if got := s.GateHold(now); got != tc.gate {
				t.Errorf("GateHold = %v, want %v", got, tc.gate)
			}
			if got := s.KioskHold(now); got != tc.kiosk {
				t.Errorf("KioskHold = %v, want %v", got, tc.kiosk)
			}
			for _, c := range tc.holds {
				if m := c.Message(); m.ZH == "" || m.EN == "" || m.EN == "Refused: "+string(c) {
					t.Errorf("%s has no message of its own", c)
				}
			}
		})
	}
}
