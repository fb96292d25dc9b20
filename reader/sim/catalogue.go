package sim

import (
	"fmt"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
)

// Demo is one card of the demo catalogue.
type Demo struct {
	Name    string  // short name used by the control interface and the rig
	Note    string  // what the card is for
	Profile Profile // personalisation (fixed test card numbers)
	Balance uint32  // initial balance in fen
	// Listed is the reason the card is on the demo status list ("lost"),
	// or "": the status list lives on the terminal, not on the card.
	Listed string
}

// Card numbers of the demo cards (20-digit application serial numbers;
// their last 16 digits are the key diversification factor).
const (
	DemoStudentNo    = "10012026090100000001"
	DemoLostNo       = "10012026090100000002"
	DemoLowBalanceNo = "10012026090100000003"
	DemoStaffNo      = "10012026090100000004"
	DemoExpiredNo    = "10012026090100000005"
)

// Card classes of the demo cards.
const (
	ClassStudent byte = 1
	ClassStaff   byte = 2
)

// DemoIssuer is the issuer identification of the demo cards.
var DemoIssuer = [8]byte{0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}

func demoProfile(no string, class byte, start, expiry string) Profile {
	return Profile{
		CardNo: no, Issuer: DemoIssuer, Class: class, Start: start, Expiry: expiry,
		Algorithm: epurse.AlgDES, KeyVersion: 1, KeyIndex: 1, PIN: "123456", StatusListVersion: 1,
	}
}

// Catalogue returns the demo cards: a normal student (100.00 yuan), a lost
// card (on the demo status list), a student with a low balance (5.00 yuan),
// a staff card and an expired card. All have PIN 123456 and are issued with
// the test keys of reader/sam (sam.TestKeyFile, key version 1).
func Catalogue() []Demo {
	return []Demo{
		{Name: "student", Note: "normal student card", Profile: demoProfile(DemoStudentNo, ClassStudent, "20260901", "20300831"), Balance: 10000},
		{Name: "lost", Note: "student card reported lost: on the status list", Profile: demoProfile(DemoLostNo, ClassStudent, "20260901", "20300831"), Balance: 8000, Listed: "lost"},
		{Name: "low", Note: "student card with 5.00 yuan: below a shower's minimum", Profile: demoProfile(DemoLowBalanceNo, ClassStudent, "20260901", "20300831"), Balance: 500},
		{Name: "staff", Note: "staff card", Profile: demoProfile(DemoStaffNo, ClassStaff, "20200101", "20351231"), Balance: 50000},
		{Name: "expired", Note: "student card whose validity ended", Profile: demoProfile(DemoExpiredNo, ClassStudent, "20200901", "20240831"), Balance: 3000},
	}
}

// NewDemoCard issues a fresh card of the catalogue by name with the test
// keys.
func NewDemoCard(name string) (*Card, error) {
	for _, d := range Catalogue() {
		if d.Name == name {
			return d.Issue()
		}
	}
	return nil, fmt.Errorf("sim: no demo card %q", name)
}

// Issue issues the demo card with the test keys (sam.TestKeys).
func (d Demo) Issue() (*Card, error) {
	kf := sam.TestKeys()
	mk, ok := kf.Keys[d.Profile.KeyVersion]
	if !ok {
		return nil, fmt.Errorf("sim: demo card %s: no test key version %d", d.Name, d.Profile.KeyVersion)
	}
	return NewCard(d.Profile, mk, d.Balance)
}

// NewDemoPSAM returns a virtual PSAM holding the test keys and terminal id.
func NewDemoPSAM() *PSAMCard { return NewPSAMCard(sam.TestKeys()) }
