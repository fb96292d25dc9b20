package protocol

// Bounds of an encoded Rules.
const (
	// MaxRulesSize bounds an encoded Rules (4 MiB).
	MaxRulesSize = 4 << 20
	// MaxRulesItems bounds every array and map inside a Rules.
	MaxRulesItems = 65536
)

// ContentType returns TypeRules.
func (*Rules) ContentType() string { return TypeRules }

// Validate checks what a terminal relies on before applying rules: a
// version, well-formed issuer keys, and meal periods and time windows inside
// a day.
func (m *Rules) Validate() error {
	const w = "rules"
	if m.Version == 0 {
		return Errorf(CodeMalformed, "%s: version 0", w)
	}
	for i, k := range m.QRIssuers {
		if !validName(k.KeyID, MaxKeyIDLen) || len(k.Key) == 0 || len(k.Key) > MaxKeyLen {
			return Errorf(CodeMalformed, "%s: qr issuer %d: invalid key id or key", w, i)
		}
	}
	for i, p := range m.Meals {
		if p.Start > 1440 || p.End > 1440 {
			return Errorf(CodeMalformed, "%s: meal %d: minutes outside a day", w, i)
		}
	}
	for i, p := range m.Profiles {
		for j, win := range p.Windows {
			if win.Start > 1440 || win.End > 1440 || win.Days > 0x7f {
				return Errorf(CodeMalformed, "%s: profile %d window %d: outside a week", w, i, j)
			}
		}
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *Rules) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("rules", m, MaxRulesSize)
}

func (m *Rules) decode(b []byte) error {
	*m = Rules{}
	if err := decodeStrict("rules", b, m, rulesDec, MaxRulesSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *Rules) deviceID() string { return "" }
func (m *Rules) version() uint64  { return m.Version }

// DecodeRules decodes a Rules strictly.
func DecodeRules(b []byte) (Rules, error) {
	var m Rules
	err := m.decode(b)
	return m, err
}
