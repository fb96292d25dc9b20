package config

import "time"

// Credential kinds a gate may accept (the gate-type matrix).
const (
	CredCard       = "card"       // campus card (e-purse card number, or UID)
	CredQR         = "qr"         // dynamic campus QR code
	CredPhone      = "phone"      // NFC phone emulating the campus card
	CredRecogniser = "recogniser" // external face / palm recogniser id
	CredVisitor    = "visitor"    // visitor document
)

// Gate configures a turnstile or door. Access groups, time profiles and
// holidays come in the ledger's signed rules; with none held the gate fails
// closed.
type Gate struct {
	// Door is this gate's id in the access rules.
	Door string `toml:"door"`
	// Accept lists the credential kinds this device accepts.
	Accept []string `toml:"accept"`
	// RelayIn and RelayOut are the board relays for each direction
	// (RelayOut may be empty for a one-way door).
	RelayIn  string `toml:"relay_in"`
	RelayOut string `toml:"relay_out"`
	// ReadersOut names the readers on the exit side; every other reader is
	// on the entry side.
	ReadersOut []string `toml:"readers_out"`
	// Pulse is how long a relay is energised to release the arm (>= 100 ms).
	Pulse Duration `toml:"pulse"`
	// PassageWindow is how long a granted pass waits for the passage sensor.
	PassageWindow Duration `toml:"passage_window"`
	// PassageIn and PassageOut are the passage sensor inputs per direction.
	PassageIn  string `toml:"passage_in"`
	PassageOut string `toml:"passage_out"`
	// FireAlarm, DoorContact and Tamper are optional input names.
	FireAlarm   string `toml:"fire_alarm"`
	DoorContact string `toml:"door_contact"`
	Tamper      string `toml:"tamper"`
	// HeldOpen raises an alarm when the door contact stays open longer.
	HeldOpen Duration `toml:"held_open"`
	// AntiPassback refuses a second pass in the same direction within this
	// time; 0 disables it.
	AntiPassback Duration `toml:"anti_passback"`
	// QRSkew is the clock skew tolerated on campus QR tokens.
	QRSkew Duration `toml:"qr_skew"`
}

func (g *Gate) defaults() {
	if g.Pulse == 0 {
		g.Pulse = Duration(300 * time.Millisecond)
	}
	if g.PassageWindow == 0 {
		g.PassageWindow = Duration(5 * time.Second)
	}
	if g.HeldOpen == 0 {
		g.HeldOpen = Duration(30 * time.Second)
	}
	if g.QRSkew == 0 {
		g.QRSkew = Duration(30 * time.Second)
	}
	if len(g.Accept) == 0 {
		g.Accept = []string{CredCard}
	}
}

func (g *Gate) validate(kind string, b *Board) error {
	if kind != KindGate {
		return nil
	}
	if g.Door == "" {
		return invalid("gate.door is required")
	}
	for _, c := range g.Accept {
		switch c {
		case CredCard, CredQR, CredPhone, CredRecogniser, CredVisitor:
		default:
			return invalid("gate.accept %q: want card, qr, phone, recogniser or visitor", c)
		}
	}
	if g.Pulse.D() < 100*time.Millisecond {
		return invalid("gate.pulse %s: at least 100ms", g.Pulse.D())
	}
	if g.RelayIn == "" {
		return invalid("gate.relay_in is required")
	}
	for _, r := range []string{g.RelayIn, g.RelayOut} {
		if r != "" && !b.HasRelay(r) {
			return invalid("gate: relay %q is not on the board", r)
		}
		if r != "" && g.Pulse.D() < b.MinPulseOf(r) {
			return invalid("gate.pulse %s: below relay %q's min_pulse %s", g.Pulse.D(), r, b.MinPulseOf(r))
		}
	}
	for _, in := range []string{g.PassageIn, g.PassageOut, g.FireAlarm, g.DoorContact, g.Tamper} {
		if in != "" && !b.HasInput(in) {
			return invalid("gate: input %q is not on the board", in)
		}
	}
	return nil
}
