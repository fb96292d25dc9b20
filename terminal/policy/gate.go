package policy

import (
	"slices"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// Credential kinds (the values of terminal/config's gate.accept).
const (
	KindCard       = "card"       // campus card: e-purse card number, or UID
	KindQR         = "qr"         // dynamic campus QR code
	KindPhone      = "phone"      // NFC phone emulating the campus card
	KindRecogniser = "recogniser" // external face / palm recogniser id
	KindVisitor    = "visitor"    // visitor document
)

// Gate is the device's local configuration of a gate, built by the caller
// from terminal/config's gate section.
type Gate struct {
	// Door is this gate's id in the access rules.
	Door string
	// Accept lists the credential kinds the device accepts; the rules'
	// Credentials for the door replace it when present.
	Accept []string
	// AntiPassback is the window used when the rules' door sets none; 0 = off.
	AntiPassback time.Duration
	// QRSkew is the clock skew tolerated on campus QR tokens.
	QRSkew time.Duration
	// Location is the device time zone (validity days, time profiles,
	// holidays); nil uses Now's location.
	Location *time.Location
}

// Credential is what was presented at the gate.
type Credential struct {
	// Kind is KindCard, KindQR, KindPhone, KindRecogniser or KindVisitor.
	Kind string
	// ID is the card number (or UID), recogniser id or visitor document
	// number the status list and access groups know; for cards and phones
	// an empty ID takes Card.No. For KindQR, ID and Class are taken from QR
	// (the flow looks the subject up in the status list).
	ID    string
	Class uint8
	// Card is file 0x15 as read from a card or phone (status byte,
	// validity); zero when only a UID is known.
	Card Card
	// QR holds the signature-checked claims of a campus QR token, and
	// NonceSeen whether the store's nonce cache already had its nonce.
	QR        protocol.QRClaims
	NonceSeen bool
}

// GateInput is everything a gate decision depends on.
type GateInput struct {
	Credential Credential
	// Listed is the credential's status-list reason; 0 = not listed.
	Listed offline.Reason
	// ListVersion is the version of the status list held; 0 = none. For
	// cards and phones a list older than the card's StatusListVersion
	// does not decide (CheckCardStatus).
	ListVersion uint64
	Direction   Direction
	Device      Gate
	// Rules are the signed rules held; nil = none (the gate fails closed).
	Rules *protocol.Rules
	// Passback is this credential's anti-passback state at this gate.
	Passback Passback
	// Emergency is true while the fire alarm input is active.
	Emergency bool
	Now       time.Time
}

// DecideGate decides a pass. The checks run in this order and the first
// refusal wins: emergency (fire alarm → allowed, Unlock, CodeEmergency),
// credential kind accepted here, status (list and card byte,
// CheckCardStatus), credential validity (card dates, QR claims), rules
// held, door known, group and door permission, time profile (holidays
// override), second factor, anti-passback.
//
// A door whose rules ask for a second factor sets NeedPIN for card and phone
// credentials and refuses the others (CodeSecondFactor): the PIN is verified
// on the card. Every door a gate uses must be listed in Rules.Doors, even
// without settings: an unknown door fails closed with CodeRuleMissing.
// Every status-list reason refuses at a gate as at a POS, dormant included.
func DecideGate(in GateInput) Decision {
	if in.Emergency {
		d := allow()
		d.Code, d.Message, d.Unlock = CodeEmergency, CodeEmergency.Message(), true
		return d
	}
	dev, r, cred := &in.Device, in.Rules, &in.Credential
	now := local(in.Now, dev.Location)
	id, class := credentialID(cred)
	// Cards and phones carry file 0x15 (status byte) and can VERIFY a PIN.
	cardLike := cred.Kind == KindCard || cred.Kind == KindPhone

	if !slices.Contains(accepts(r, dev.Door, dev.Accept), cred.Kind) {
		return refuse(CodeNotAccepted)
	}
	var card Card // the status byte and 解挂 version only cards carry
	if cardLike {
		card = cred.Card
	}
	if c := CheckCardStatus(in.Listed, in.ListVersion, card); c != CodeOK {
		return refuse(c)
	}
	if c := credentialValid(cred, id, now, dev.QRSkew); c != CodeOK {
		return refuse(c)
	}
	if r == nil {
		return refuse(CodeNoRules)
	}
	door := findDoor(r, dev.Door)
	if door == nil {
		return refuse(CodeRuleMissing)
	}
	if c := checkAccess(r, dev.Door, id, class, now); c != CodeOK {
		return refuse(c)
	}
	if door.SecondFactor && !cardLike {
		return refuse(CodeSecondFactor)
	}
	window := time.Duration(door.AntiPassbackSec) * time.Second
	if window == 0 {
		window = dev.AntiPassback
	}
	if in.Passback.Blocks(in.Direction, in.Now, window) {
		return refuse(CodeAntiPassback)
	}
	d := allow()
	d.NeedPIN = door.SecondFactor
	return d
}

// credentialID returns the id and class the status list and the access
// groups know the credential by.
func credentialID(c *Credential) (string, uint8) {
	switch {
	case c.Kind == KindQR:
		return c.QR.Subject, c.QR.Class
	case c.ID == "" && (c.Kind == KindCard || c.Kind == KindPhone):
		return c.Card.No, c.Class
	}
	return c.ID, c.Class
}

// credentialValid checks the credential itself: a non-empty id, card
// validity dates for cards and phones, the claims of a QR token.
func credentialValid(c *Credential, id string, now time.Time, skew time.Duration) Code {
	switch c.Kind {
	case KindQR:
		return CheckQRClaims(c.QR, c.NonceSeen, now, skew)
	case KindCard, KindPhone:
		if id == "" {
			return CodeNoCredential
		}
		return CheckValidity(c.Card.ValidFrom, c.Card.ValidTo, DateOf(now))
	}
	if id == "" {
		return CodeNoCredential
	}
	return CodeOK
}
