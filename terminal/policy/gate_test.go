package policy_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

func qrAt(door string, now time.Time) func(*policy.GateInput) {
	return func(in *policy.GateInput) {
		in.Device.Door, in.Now = door, now
		in.Credential = policy.Credential{Kind: policy.KindQR, QR: qrClaims(now)}
	}
}

func staffAt(door string) func(*policy.GateInput) {
	return func(in *policy.GateInput) {
		in.Device.Door = door
		in.Credential.ID, in.Credential.Class = staffNo, classNobody
		in.Credential.Card.No, in.Credential.Card.Class = staffNo, classNobody
	}
}

func TestDecideGate(t *testing.T) {
	mon := func(hh, mm int) time.Time { return at(2026, 11, 23, hh, mm, 0) }
	sun := func(hh, mm int) time.Time { return at(2026, 11, 22, hh, mm, 0) }
	tests := []struct {
		name    string
		mod     func(*policy.GateInput)
		want    policy.Code
		needPIN bool
	}{
		{"student card in the afternoon", nil, policy.CodeOK, false},

		// Emergency: everyone passes, whatever else holds.
		{"fire alarm", func(in *policy.GateInput) {
			in.Emergency = true
			in.Listed = offline.ReasonLost
			in.Rules = nil
			in.Credential.Kind = policy.KindVisitor
		}, policy.CodeEmergency, false},

		// The credential matrix: the rules' list for the door, else the device's.
		{"qr not accepted by the device", qrAt(doorDorm, noon), policy.CodeNotAccepted, false},
		{"recogniser accepted by the device", func(in *policy.GateInput) {
			in.Credential = policy.Credential{Kind: policy.KindRecogniser, ID: "face-0042", Class: classStudent}
		}, policy.CodeOK, false},
		{"rules accept qr at the door", func(in *policy.GateInput) {
			qrAt(doorDorm, noon)(in)
			in.Rules.Credentials[doorDorm] = []string{"qr"}
		}, policy.CodeOK, false},
		{"rules replace the device's list", func(in *policy.GateInput) { in.Rules.Credentials[doorDorm] = []string{"qr"} }, policy.CodeNotAccepted, false},
		{"rules list a door with no kinds", func(in *policy.GateInput) { in.Rules.Credentials[doorDorm] = nil }, policy.CodeNotAccepted, false},
		{"no rules: the device's list", func(in *policy.GateInput) {
			qrAt(doorDorm, noon)(in)
			in.Rules = nil
		}, policy.CodeNotAccepted, false},
		{"unknown kind", func(in *policy.GateInput) { in.Credential.Kind = "palm" }, policy.CodeNotAccepted, false},

		// Status.
		{"listed lost", func(in *policy.GateInput) { in.Listed = offline.ReasonLost }, policy.CodeLost, false},
		{"listed dormant", func(in *policy.GateInput) { in.Listed = offline.ReasonDormant }, policy.CodeDormant, false},
		{"card byte frozen", func(in *policy.GateInput) { in.Credential.Card.Status = 0x02 }, policy.CodeFrozen, false},
		{"listed lost in a list older than the card's unfreeze", func(in *policy.GateInput) {
			in.Listed, in.ListVersion, in.Credential.Card.StatusListVersion = offline.ReasonLost, 6, 7
		}, policy.CodeOK, false},
		{"listed lost in the list of the card's unfreeze", func(in *policy.GateInput) {
			in.Listed, in.ListVersion, in.Credential.Card.StatusListVersion = offline.ReasonLost, 7, 7
		}, policy.CodeLost, false},
		{"older list, card byte lost", func(in *policy.GateInput) {
			in.Listed, in.ListVersion, in.Credential.Card.StatusListVersion, in.Credential.Card.Status = offline.ReasonLost, 6, 7, 0x01
		}, policy.CodeLost, false},
		{"older list, a recogniser's entry still decides", func(in *policy.GateInput) {
			in.Credential = policy.Credential{Kind: policy.KindRecogniser, ID: "face-0042", Class: classStudent,
				Card: policy.Card{StatusListVersion: 7}}
			in.Listed, in.ListVersion = offline.ReasonLost, 6
		}, policy.CodeLost, false},
		{"list beats card when stricter", func(in *policy.GateInput) {
			in.Listed, in.Credential.Card.Status = offline.ReasonCancelled, 0x02
		}, policy.CodeCancelled, false},
		{"recogniser listed", func(in *policy.GateInput) {
			in.Credential = policy.Credential{Kind: policy.KindRecogniser, ID: "face-0042", Class: classStudent}
			in.Listed = offline.ReasonFrozen
		}, policy.CodeFrozen, false},

		// Credential validity.
		{"card expired yesterday", func(in *policy.GateInput) {
			in.Credential.Card.ValidTo = policy.DateOf(noon.AddDate(0, 0, -1))
		}, policy.CodeExpired, false},
		{"card on its last day", func(in *policy.GateInput) { in.Credential.Card.ValidTo = policy.DateOf(noon) }, policy.CodeOK, false},
		{"card not yet valid", func(in *policy.GateInput) {
			in.Credential.Card.ValidFrom = policy.DateOf(noon.AddDate(0, 0, 1))
		}, policy.CodeNotYetValid, false},
		{"UID-only card without dates", func(in *policy.GateInput) {
			in.Credential.Card = policy.Card{}
		}, policy.CodeOK, false},
		{"card without a number", func(in *policy.GateInput) { in.Credential.ID, in.Credential.Card.No = "", "" }, policy.CodeNoCredential, false},
		{"card number from file 0x15", func(in *policy.GateInput) {
			staffAt(doorDorm)(in)
			in.Credential.ID = ""
			in.Now = at(2026, 11, 23, 3, 0, 0) // only the staff card's "always" group is open
		}, policy.CodeOK, false},
		{"recogniser without an id", func(in *policy.GateInput) {
			in.Credential = policy.Credential{Kind: policy.KindRecogniser, Class: classStudent}
		}, policy.CodeNoCredential, false},
		{"qr expired", func(in *policy.GateInput) {
			qrAt(doorLab, noon)(in)
			in.Credential.QR = qrClaims(noon.Add(-2 * time.Minute))
		}, policy.CodeQRExpired, false},
		{"qr replayed", func(in *policy.GateInput) {
			qrAt(doorLab, noon)(in)
			in.Credential.NonceSeen = true
		}, policy.CodeQRReplay, false},
		{"qr subject and class give the access", func(in *policy.GateInput) {
			qrAt(doorDorm, noon)(in)
			in.Rules.Credentials[doorDorm] = []string{"qr"}
			in.Credential.ID, in.Credential.Class = staffNo, classNobody // ignored for qr
		}, policy.CodeOK, false},

		// Rules held, door known.
		{"no rules", func(in *policy.GateInput) { in.Rules = nil }, policy.CodeNoRules, false},
		{"unknown door", func(in *policy.GateInput) { in.Device.Door = "gym" }, policy.CodeRuleMissing, false},
		{"door in groups but not listed", func(in *policy.GateInput) {
			in.Rules.Doors = in.Rules.Doors[1:]
		}, policy.CodeRuleMissing, false},

		// Groups: by class and by card number.
		{"class in no group", func(in *policy.GateInput) { in.Credential.Class = classNobody }, policy.CodeNoAccess, false},
		{"group of another door", func(in *policy.GateInput) { in.Device.Door = doorLab }, policy.CodeNoAccess, false},
		{"explicit card number", staffAt(doorDorm), policy.CodeOK, false},
		{"group with an unknown profile", func(in *policy.GateInput) { in.Credential.Class = classBroken }, policy.CodeRuleMissing, false},
		{"another group lets a broken group's member through", func(in *policy.GateInput) {
			staffAt(doorDorm)(in)
			in.Credential.Class = classBroken
		}, policy.CodeOK, false},

		// Time profiles: start inclusive, end exclusive, per weekday.
		{"weekday before opening", func(in *policy.GateInput) { in.Now = mon(5, 59) }, policy.CodeOutsideHours, false},
		{"weekday at opening", func(in *policy.GateInput) { in.Now = mon(6, 0) }, policy.CodeOK, false},
		{"weekday last minute", func(in *policy.GateInput) { in.Now = at(2026, 11, 23, 22, 59, 59) }, policy.CodeOK, false},
		{"weekday at closing", func(in *policy.GateInput) { in.Now = mon(23, 0) }, policy.CodeOutsideHours, false},
		{"Sunday at 06:30 (weekend opens at 07:00)", func(in *policy.GateInput) { in.Now = sun(6, 30) }, policy.CodeOutsideHours, false},
		{"Sunday at 23:15", func(in *policy.GateInput) { in.Now = sun(23, 15) }, policy.CodeOK, false},
		{"profile in the device time zone", func(in *policy.GateInput) {
			in.Now = time.Date(2026, 11, 22, 22, 0, 0, 0, time.UTC) // Monday 06:00 CST
		}, policy.CodeOK, false},
		{"night window Friday 22:00", func(in *policy.GateInput) {
			in.Credential.Class, in.Now = classVisitor, at(2026, 11, 27, 22, 0, 0)
		}, policy.CodeOK, false},
		{"night window Saturday 05:59, from Friday", func(in *policy.GateInput) {
			in.Credential.Class, in.Now = classVisitor, at(2026, 11, 28, 5, 59, 0)
		}, policy.CodeOK, false},
		{"night window Saturday 06:00", func(in *policy.GateInput) {
			in.Credential.Class, in.Now = classVisitor, at(2026, 11, 28, 6, 0, 0)
		}, policy.CodeOutsideHours, false},
		{"night window Friday 05:00 belongs to Thursday", func(in *policy.GateInput) {
			in.Credential.Class, in.Now = classVisitor, at(2026, 11, 27, 5, 0, 0)
		}, policy.CodeOutsideHours, false},
		{"night window Sunday 05:00, from Saturday", func(in *policy.GateInput) {
			in.Credential.Class, in.Now = classVisitor, at(2026, 11, 29, 5, 0, 0)
		}, policy.CodeOK, false},

		// Holidays replace the profiles; an empty holiday profile is closed.
		{"closed holiday at noon", func(in *policy.GateInput) { in.Now = at(2026, 10, 1, 12, 0, 0) }, policy.CodeHolidayClosed, false},
		{"closed holiday closes 'always' too", func(in *policy.GateInput) {
			staffAt(doorDorm)(in)
			in.Now = at(2026, 10, 1, 12, 0, 0)
		}, policy.CodeHolidayClosed, false},
		{"day after the holiday", func(in *policy.GateInput) { in.Now = at(2026, 10, 2, 12, 0, 0) }, policy.CodeOK, false},
		{"holiday profile closed at noon on a weekday", func(in *policy.GateInput) { in.Now = at(2026, 12, 25, 12, 0, 0) }, policy.CodeOutsideHours, false},
		{"holiday profile open at night", func(in *policy.GateInput) { in.Now = at(2026, 12, 25, 23, 30, 0) }, policy.CodeOK, false},
		{"holiday with an unknown profile", func(in *policy.GateInput) { in.Now = at(2027, 1, 1, 12, 0, 0) }, policy.CodeRuleMissing, false},
		{"malformed holiday date", func(in *policy.GateInput) {
			in.Rules.Holidays = append(in.Rules.Holidays, protocol.Holiday{Date: "2026-13-01"})
		}, policy.CodeRuleMissing, false},
		{"holiday in the device time zone", func(in *policy.GateInput) {
			in.Now = time.Date(2026, 9, 30, 16, 30, 0, 0, time.UTC) // 00:30 CST on 1 October
		}, policy.CodeHolidayClosed, false},
		{"no access before holiday", func(in *policy.GateInput) {
			in.Credential.Class, in.Now = classNobody, at(2026, 10, 1, 12, 0, 0)
		}, policy.CodeNoAccess, false},

		// Second factor.
		{"lab card asks for the PIN", staffAt(doorLab), policy.CodeOK, true},
		{"lab by qr cannot give a PIN", func(in *policy.GateInput) {
			qrAt(doorLab, noon)(in)
			in.Credential.QR.Subject = staffNo
		}, policy.CodeSecondFactor, false},
		{"lab by phone asks for the PIN", func(in *policy.GateInput) {
			staffAt(doorLab)(in)
			in.Credential.Kind = policy.KindPhone
			in.Rules.Credentials[doorLab] = []string{"phone"}
		}, policy.CodeOK, true},

		// Anti-passback: the door's window, else the device's.
		{"in again after 59s", func(in *policy.GateInput) { in.Passback.In = noon.Add(-59 * time.Second) }, policy.CodeAntiPassback, false},
		{"in again after 60s", func(in *policy.GateInput) { in.Passback.In = noon.Add(-60 * time.Second) }, policy.CodeOK, false},
		{"out right after in", func(in *policy.GateInput) {
			in.Passback.In, in.Direction = noon.Add(-time.Second), policy.Out
		}, policy.CodeOK, false},
		{"out again after 10s", func(in *policy.GateInput) {
			in.Passback.Out, in.Direction = noon.Add(-10*time.Second), policy.Out
		}, policy.CodeAntiPassback, false},
		{"clock stepped back behind the last pass", func(in *policy.GateInput) { in.Passback.In = noon.Add(10 * time.Second) }, policy.CodeAntiPassback, false},
		{"device window when the door sets none", func(in *policy.GateInput) {
			staffAt(doorLab)(in)
			in.Device.AntiPassback = 30 * time.Second
			in.Passback.In = noon.Add(-29 * time.Second)
		}, policy.CodeAntiPassback, false},
		{"device window edge", func(in *policy.GateInput) {
			staffAt(doorLab)(in)
			in.Device.AntiPassback = 30 * time.Second
			in.Passback.In = noon.Add(-30 * time.Second)
		}, policy.CodeOK, true},
		{"no window anywhere", func(in *policy.GateInput) {
			staffAt(doorLab)(in)
			in.Passback.In = noon
		}, policy.CodeOK, true},
		{"second factor refusal before anti-passback", func(in *policy.GateInput) {
			qrAt(doorLab, noon)(in)
			in.Credential.QR.Subject = staffNo
			in.Device.AntiPassback = time.Minute
			in.Passback.In = noon
		}, policy.CodeSecondFactor, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := cardAtDorm()
			if tc.mod != nil {
				tc.mod(&in)
			}
			d := policy.DecideGate(in)
			if d.Code != tc.want {
				t.Fatalf("code = %s (%s), want %s", d.Code, d.Message, tc.want)
			}
			if d.Allow != tc.want.Allows() || d.Message != d.Code.Message() {
				t.Errorf("allow = %v, message %v for code %s", d.Allow, d.Message, d.Code)
			}
			if d.NeedPIN != tc.needPIN {
				t.Errorf("needPIN = %v, want %v", d.NeedPIN, tc.needPIN)
			}
			if d.Unlock != (d.Code == policy.CodeEmergency) {
				t.Errorf("unlock = %v for code %s", d.Unlock, d.Code)
			}
			if d.Amount != 0 || d.Meal != "" {
				t.Errorf("gate decision with amount %d, meal %q", d.Amount, d.Meal)
			}
		})
	}
}

// TestDecideGateOrder breaks every rule at once, then mends them one by
// one in the fixed order: each step must report the next rule's reason.
func TestDecideGateOrder(t *testing.T) {
	in := cardAtDorm()
	in.Emergency = true
	in.Credential.Kind = policy.KindVisitor                            // not accepted
	in.Listed = offline.ReasonLost                                     // status list
	in.Credential.Card.ValidTo = policy.DateOf(noon.AddDate(0, 0, -1)) // expired
	rules := in.Rules
	in.Rules = nil                            // no rules
	in.Device.Door = "gym"                    // unknown door
	in.Credential.Class = classNobody         // no group
	in.Now = at(2026, 11, 23, 5, 0, 0)        // before opening
	in.Passback.In = in.Now.Add(-time.Second) // anti-passback

	steps := []struct {
		want policy.Code
		mend func()
	}{
		{policy.CodeEmergency, func() { in.Emergency = false }},
		{policy.CodeNotAccepted, func() { in.Credential.Kind = policy.KindCard }},
		{policy.CodeLost, func() { in.Listed = 0 }},
		{policy.CodeExpired, func() { in.Credential.Card.ValidTo = 0 }},
		{policy.CodeNoRules, func() { in.Rules = rules }},
		{policy.CodeRuleMissing, func() { in.Device.Door = doorDorm }},
		{policy.CodeNoAccess, func() { in.Credential.Class = classStudent }},
		{policy.CodeOutsideHours, func() {
			in.Now = at(2026, 11, 23, 7, 0, 0)
			in.Passback.In = in.Now.Add(-time.Second)
			rules.Doors[0].SecondFactor = true
		}},
		{policy.CodeAntiPassback, func() { in.Passback = policy.Passback{} }},
		{policy.CodeOK, nil},
	}
	for i, s := range steps {
		d := policy.DecideGate(in)
		if d.Code != s.want {
			t.Fatalf("step %d: code %s, want %s", i, d.Code, s.want)
		}
		if s.mend != nil {
			s.mend()
		}
	}
	if d := policy.DecideGate(in); !d.Allow || !d.NeedPIN {
		t.Fatalf("final: %+v, want allowed with the PIN", d)
	}
}

func TestPassback(t *testing.T) {
	var p policy.Passback
	if p.Blocks(policy.In, noon, time.Minute) {
		t.Fatal("a card that never passed is blocked")
	}
	p = p.Passed(policy.In, noon)
	cases := []struct {
		dir  policy.Direction
		at   time.Duration
		want bool
	}{
		{policy.In, 0, true},
		{policy.In, 59*time.Second + 999*time.Millisecond, true},
		{policy.In, time.Minute, false},
		{policy.Out, 0, false},
		{policy.In, -59 * time.Second, true}, // clock stepped back
		{policy.In, -time.Minute, false},
	}
	for _, c := range cases {
		if got := p.Blocks(c.dir, noon.Add(c.at), time.Minute); got != c.want {
			t.Errorf("%s at %+v: blocks = %v, want %v", c.dir, c.at, got, c.want)
		}
	}
	if p.Blocks(policy.In, noon, 0) {
		t.Error("window 0 blocks")
	}
	p = p.Passed(policy.Out, noon.Add(time.Second))
	if !p.In.Equal(noon) || !p.Out.Equal(noon.Add(time.Second)) {
		t.Fatalf("state %+v", p)
	}
	if !p.Blocks(policy.Out, noon.Add(30*time.Second), time.Minute) {
		t.Error("out again within the window not blocked")
	}
	if policy.In.String() != "in" || policy.Out.String() != "out" {
		t.Errorf("direction names %s, %s", policy.In, policy.Out)
	}
}
