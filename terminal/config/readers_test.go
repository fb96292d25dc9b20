package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/reader/wiegand"
)

// noReaders is a valid configuration without readers; tests append
// [[reader]] tables to it.
const noReaders = `
[device]
id = "POS-0001"
kind = "pos"
data_dir = "/var/lib/yktd"

[board]
backend = "fake"

[pos]
mode = "keyed"
`

func parseReaders(t *testing.T, readers string) ([]Reader, error) {
	t.Helper()
	c, err := Parse([]byte(noReaders + readers))
	if err != nil {
		return nil, err
	}
	return c.Readers, nil
}

func TestReadersParse(t *testing.T) {
	rs, err := parseReaders(t, `
[[reader]]
driver = "pcsc"
match = "ACR122"

[[reader]]
name = "nfc"
driver = "pn532"
device = "/dev/serial/by-id/usb-pn532"
baud = 115200
poll = "50ms"

[[reader]]
name = "qr"
driver = "qrscan"
device = "/dev/ttyS2"
terminator = "crlf"
prefix = "]Q1"
suffix = "\u0003"
max_len = 512

[[reader]]
name = "door"
driver = "wiegand"
d0 = "GPIO17"
d1 = "GPIO27"
formats = ["h10301", "site37", "34"]
bit_timeout = "40ms"
[[reader.format]]
name = "site37"
bits = 37
facility_bits = 16
even_bits = 18
odd_bits = 18

[[reader]]
driver = "sim"
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 5 {
		t.Fatalf("%d readers", len(rs))
	}
	if rs[0].Name != "pcsc" || rs[0].Match != "ACR122" || rs[4].Name != "sim" {
		t.Errorf("pcsc %+v sim %+v", rs[0], rs[4])
	}
	if rs[1].Poll.D() != 50*time.Millisecond || rs[1].Baud != 115200 {
		t.Errorf("pn532 %+v", rs[1])
	}
	fr := rs[2].QRFraming()
	if fr.Terminator != "crlf" || fr.Prefix != "]Q1" || fr.Suffix != "\x03" || fr.MaxLen != 512 {
		t.Errorf("qr framing %+v", fr)
	}
	w := rs[3]
	if w.BitTimeout.D() != 40*time.Millisecond {
		t.Errorf("bit_timeout %s", w.BitTimeout.D())
	}
	fs, err := w.WiegandFormats()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 || fs[0] != wiegand.H10301 || fs[2] != wiegand.H10306 {
		t.Errorf("formats %+v", fs)
	}
	if want := (wiegand.Format{Name: "site37", Bits: 37, EvenBits: 18, OddBits: 18, FacilityBits: 16}); fs[1] != want {
		t.Errorf("site37 = %+v", fs[1])
	}
}

func TestWiegandFormatDefaults(t *testing.T) {
	rs, err := parseReaders(t, `
[[reader]]
name = "plain"
driver = "wiegand"
d0 = "GPIO5"
d1 = "GPIO6"

[[reader]]
name = "site"
driver = "wiegand"
d0 = "GPIO7"
d1 = "GPIO8"
[[reader.format]]
name = "site26"
bits = 26
facility_bits = 10
even_bits = 12
odd_bits = 12
`)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := rs[0].WiegandFormats()
	if err != nil || len(plain) != 2 || plain[0] != wiegand.H10301 || plain[1] != wiegand.H10306 {
		t.Errorf("default formats %+v, %v", plain, err)
	}
	// A reader with its own formats and no list accepts only its own: a
	// 26-bit site format would otherwise be shadowed by h10301.
	site, err := rs[1].WiegandFormats()
	if err != nil || len(site) != 1 || site[0].Name != "site26" || site[0].FacilityBits != 10 {
		t.Errorf("own formats %+v, %v", site, err)
	}
}

func TestReadersRefuse(t *testing.T) {
	tests := []struct {
		name, toml, want string
	}{
		{"unknown driver", `driver = "rfid"`, `driver "rfid"`},
		{"no driver", `name = "x"`, `driver ""`},
		{"qrscan without device", `driver = "qrscan"`, "device is required"},
		{"relative device", "driver = \"qrscan\"\ndevice = \"ttyUSB0\"", "absolute path"},
		{"odd baud", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nbaud = 9601", "baud 9601"},
		{"bad terminator", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nterminator = \";\"", "terminator"},
		{"max_len too big", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nmax_len = 70000", "max_len 70000"},
		{"negative max_len", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nmax_len = -1", "max_len -1"},
		{"prefix with CR", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nprefix = \"a\\r\"", "prefix"},
		{"pn532 poll too short", "driver = \"pn532\"\ndevice = \"/dev/ttyS1\"\npoll = \"1ms\"", "poll 1ms"},
		{"wiegand without d1", "driver = \"wiegand\"\nd0 = \"GPIO5\"", "d0 and d1"},
		{"wiegand same pin", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO5\"", "same pin"},
		{"wiegand unknown format", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO6\"\nformats = [\"h10302\"]", `"h10302" is neither`},
		{"wiegand format twice", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO6\"\nformats = [\"26\", \"h10301\"]", "listed twice"},
		{"wiegand bit_timeout", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO6\"\nbit_timeout = \"1s\"", "bit_timeout 1s"},
		{"wiegand bad layout", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO6\"\n[[reader.format]]\nname = \"x\"\nbits = 26\neven_bits = 12\nodd_bits = 12\nfacility_bits = 24", "no card number bits"},
		{"wiegand format without name", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO6\"\n[[reader.format]]\nbits = 26", "name is required"},
		{"wiegand format shadows built-in", "driver = \"wiegand\"\nd0 = \"GPIO5\"\nd1 = \"GPIO6\"\n[[reader.format]]\nname = \"H10301\"\nbits = 26", "built-in"},
		{"pin on a qr scanner", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nd0 = \"GPIO5\"", "d0 applies to driver wiegand only"},
		{"terminator on pn532", "driver = \"pn532\"\ndevice = \"/dev/ttyS1\"\nterminator = \"cr\"", "terminator applies to driver qrscan only"},
		{"device on pcsc", "driver = \"pcsc\"\ndevice = \"/dev/ttyS1\"", "device applies to driver pn532, qrscan only"},
		{"match on sim", "driver = \"sim\"\nmatch = \"x\"", "match applies"},
		{"pcsc backend", "driver = \"pcsc\"\nbackend = \"ccid\"", `backend "ccid"`},
		{"unknown key", "driver = \"qrscan\"\ndevice = \"/dev/ttyS1\"\nterminater = \"cr\"", "unknown keys"},
		{"name with newline", "driver = \"sim\"\nname = \"a\\nb\"", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseReaders(t, "[[reader]]\n"+tt.toml+"\n")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
	_, err := parseReaders(t, "[[reader]]\ndriver = \"sim\"\n[[reader]]\ndriver = \"sim\"\n")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("duplicate names: %v", err)
	}
}

// FuzzParseReaders parses arbitrary [[reader]] sections after a valid
// device section. Parse must not panic; a configuration it accepts has
// readers that validate again, whose wiegand formats resolve and whose QR
// framing is valid.
func FuzzParseReaders(f *testing.F) {
	f.Add("[[reader]]\ndriver = \"qrscan\"\ndevice = \"/dev/ttyS2\"\nterminator = \"\\r\\n\"\n")
	f.Add("[[reader]]\ndriver = \"wiegand\"\nd0 = \"GPIO17\"\nd1 = \"GPIO27\"\nformats = [\"26\"]\n")
	f.Add("[[reader]]\ndriver = \"wiegand\"\nd0 = \"A\"\nd1 = \"B\"\n[[reader.format]]\nname = \"s\"\nbits = 40\nfacility_bits = 8\neven_bits = 19\nodd_bits = 19\n")
	f.Add("[[reader]]\ndriver = \"pn532\"\ndevice = \"/dev/ttyUSB0\"\npoll = \"100ms\"\n")
	f.Add("[[reader]]\ndriver = \"pcsc\"\nmatch = \"ACR\"\nbackend = \"pure\"\n")
	f.Add("[[reader]]\ndriver = \"qrscan\"\n[[reader]]\n")
	f.Fuzz(func(t *testing.T, readers string) {
		c, err := Parse([]byte(noReaders + readers))
		if err != nil {
			return
		}
		for i := range c.Readers {
			r := &c.Readers[i]
			if err := r.validate(); err != nil {
				t.Fatalf("accepted reader %d fails validation: %v", i, err)
			}
			switch r.Driver {
			case DriverWiegand:
				fs, err := r.WiegandFormats()
				if err != nil || len(fs) == 0 {
					t.Fatalf("wiegand formats %v, %v", fs, err)
				}
				for _, fm := range fs {
					if fm.Validate() != nil {
						t.Fatalf("format %+v accepted", fm)
					}
				}
			case DriverQRScan:
				if err := r.QRFraming().Validate(); err != nil {
					t.Fatalf("framing accepted: %v", err)
				}
			}
		}
	})
}
