package config

import (
	"errors"
	"strings"
	"testing"
)

const minimalPOS = `
[device]
id = "POS-0001"
kind = "pos"
data_dir = "/var/lib/yktd"

[pos]
mode = "fixed"
price_fen = 1250
`

func TestPINHashRoundTrip(t *testing.T) {
	h, err := HashPIN("2580", MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("2580") {
		t.Fatal("the hashed PIN does not verify")
	}
	for _, wrong := range []string{"2581", "0258", "25800", "", "2580 ", "258a"} {
		if h.Verify(wrong) {
			t.Errorf("PIN %q verifies against the hash of 2580", wrong)
		}
	}
	text := h.String()
	if !strings.HasPrefix(text, "pbkdf2-sha256$10000$") || strings.Contains(text, "2580") {
		t.Errorf("hash text %q", text)
	}
	c, err := Parse([]byte(minimalPOS + "cashier_pin_hash = \"" + text + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.POS.CashierPINHash.String() != text || !c.POS.CashierPINHash.Verify("2580") {
		t.Errorf("parsed hash %q does not verify", c.POS.CashierPINHash)
	}
	again, err := HashPIN("2580", MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	if again.String() == text {
		t.Error("two hashes of one PIN are equal: no salt")
	}
	c, err = Parse([]byte(minimalPOS))
	if err != nil || !c.POS.CashierPINHash.IsZero() || c.POS.CashierPINHash.Verify("") {
		t.Errorf("no cashier_pin_hash: %v, %v", c.POS.CashierPINHash, err)
	}
}

func TestHashPINRefuses(t *testing.T) {
	for _, pin := range []string{"", "123", "1234567890123", "12a4", "١٢٣٤", "1234\n"} {
		if _, err := HashPIN(pin, MinPINIterations); !errors.Is(err, ErrBadPIN) {
			t.Errorf("HashPIN(%q): %v, want ErrBadPIN", pin, err)
		} else if strings.Contains(err.Error(), pin) && pin != "" {
			t.Errorf("the error quotes the PIN: %v", err)
		}
	}
	if _, err := HashPIN("1234", MinPINIterations-1); err == nil {
		t.Error("HashPIN with too few iterations: no error")
	}
}

func TestPINHashRefusesBadText(t *testing.T) {
	good, err := HashPIN("2580", MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good.String(), "$")
	for name, text := range map[string]string{
		"scheme":          "pbkdf2-sha1$" + strings.Join(parts[1:], "$"),
		"plain PIN":       "2580",
		"three fields":    strings.Join(parts[:3], "$"),
		"five fields":     good.String() + "$x",
		"few iterations":  parts[0] + "$9999$" + parts[2] + "$" + parts[3],
		"many iterations": parts[0] + "$10000001$" + parts[2] + "$" + parts[3],
		"iterations +":    parts[0] + "$+10000$" + parts[2] + "$" + parts[3],
		"iterations 0":    parts[0] + "$010000$" + parts[2] + "$" + parts[3],
		"short salt":      parts[0] + "$10000$" + parts[2][:8] + "$" + parts[3],
		"padded salt":     parts[0] + "$10000$" + parts[2] + "==$" + parts[3],
		"short key":       parts[0] + "$10000$" + parts[2] + "$" + parts[3][:20],
		"key not base64":  parts[0] + "$10000$" + parts[2] + "$" + strings.Repeat("!", 43),
	} {
		t.Run(name, func(t *testing.T) {
			var h PINHash
			err := h.UnmarshalText([]byte(text))
			if !errors.Is(err, ErrBadPINHash) || !h.IsZero() {
				t.Errorf("UnmarshalText(%q) = %v, hash %v; want ErrBadPINHash", text, err, h)
			}
			_, err = Parse([]byte(minimalPOS + "cashier_pin_hash = \"" + text + "\"\n"))
			if err == nil || !strings.Contains(err.Error(), "yktd cashier-pin") || !strings.Contains(err.Error(), "pos.cashier_pin_hash") {
				t.Errorf("Parse with cashier_pin_hash %q: %v", text, err)
			}
		})
	}
}

// FuzzPINHash: any text either is refused or round-trips exactly, and a
// parsed hash never verifies a malformed PIN.
func FuzzPINHash(f *testing.F) {
	f.Add("pbkdf2-sha256$10000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1234")
	f.Add("pbkdf2-sha256$$$", "")
	f.Add("", "0000")
	f.Fuzz(func(t *testing.T, text, pin string) {
		var h PINHash
		if err := h.UnmarshalText([]byte(text)); err != nil {
			if !h.IsZero() {
				t.Fatalf("refused %q but kept a hash", text)
			}
			return
		}
		if h.String() != text {
			t.Fatalf("%q round-trips as %q", text, h.String())
		}
		if h.Iterations() > 20_000 {
			return // verifying costs too much per input
		}
		if ValidPIN(pin) != nil && h.Verify(pin) {
			t.Fatalf("malformed PIN %q verifies", pin)
		}
	})
}
