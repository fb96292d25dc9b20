package ledger

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Device kinds a token may be issued for.
var deviceKinds = []string{"pos", "gate", "kiosk", "desk"}

// Device is a device as the ledger knows it: identity, enrolment and its
// journal's state at the ledger.
type Device struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	PublicKey []byte `json:"public_key,omitempty"` // nil until enrolled
	Alg       int64  `json:"alg,omitempty"`        // COSE algorithm of PublicKey
	Firmware  string `json:"firmware,omitempty"`
	// Site is where the device is bound to be installed: the site its
	// enrolment named ("" for a device that named none). It moves only
	// with a token for the new site or a rekey token.
	Site     string    `json:"site,omitempty"`
	Enrolled time.Time `json:"enrolled,omitzero"`
	Revoked  time.Time `json:"revoked,omitzero"` // zero while not revoked
	// Rekeyed is when an enrolment with a rekey token (Rekey) last
	// replaced the key; zero if never.
	Rekeyed time.Time `json:"rekeyed,omitzero"`
	// Epoch is the device's current journal epoch (0 until a store was
	// started anew over its identity; protocol.EpochGenesis). HighWater is
	// the last sequence held of it; Head is its record hash (the epoch's
	// genesis value while HighWater is 0).
	Epoch     uint64 `json:"epoch,omitempty"`
	HighWater uint64 `json:"high_water"`
	Head      []byte `json:"head"`
	// EpochStarted is the time of the current epoch's store-started
	// record (zero for epoch 0).
	EpochStarted time.Time `json:"epoch_started,omitzero"`
	// Closed are the device's earlier journal epochs, by epoch.
	Closed []EpochState `json:"closed_epochs,omitempty"`
	Stats  DeviceStats  `json:"stats"`
	// PSAM is the device's binding to its PSAM and the ledger's hold on
	// it (psambind.go).
	PSAM PSAMBinding `json:"psam,omitzero"`

	// started is the time of a store-started record 1 met while a batch
	// is accounted (not stored: advance moves it to its epoch).
	started time.Time
}

// DeviceStats are a device's running totals at the ledger. Amounts in fen.
type DeviceStats struct {
	Records         uint64 `json:"records"`
	Batches         uint64 `json:"batches"`
	Debits          int64  `json:"debits"`           // sum of purchase-completed amounts
	DebitCount      uint64 `json:"debit_count"`      //
	Loads           int64  `json:"loads"`            // sum of load record amounts
	LoadCount       uint64 `json:"load_count"`       //
	Reversals       int64  `json:"reversals"`        // sum of the purchase-reversed amounts owed back as loads
	ReversalCount   uint64 `json:"reversal_count"`   //
	OpenIntents     uint64 `json:"open_intents"`     // intents with no outcome record yet
	Uncertain       uint64 `json:"uncertain"`        // intents whose last record says uncertain
	Gaps            uint64 `json:"gaps"`             // batches refused for a gap
	ChainBroken     uint64 `json:"chain_broken"`     // batches refused for a broken chain
	Forks           uint64 `json:"forks"`            // batches refused as a fork
	TACVerified     uint64 `json:"tac_verified"`     //
	TACBad          uint64 `json:"tac_bad"`          // TAC present and wrong: flagged
	TACUnverifiable uint64 `json:"tac_unverifiable"` // missing fields or unknown key version: flagged
	// ReversalsRefused counts purchase-reversed records that owed nothing
	// (an AlertReversal each), ReversalsRefusedAmount their amounts.
	ReversalsRefused       uint64 `json:"reversals_refused,omitempty"`
	ReversalsRefusedAmount int64  `json:"reversals_refused_amount,omitempty"`
	// CollectedAfterRevoke counts the records received while the device
	// was revoked (collected as evidence, never as new trust);
	// MadeAfterRevoke those of them whose time is after the revocation.
	CollectedAfterRevoke uint64 `json:"collected_after_revoke,omitempty"`
	MadeAfterRevoke      uint64 `json:"made_after_revoke,omitempty"`
	// Refusals counts the POS's purchase-refused records by reason (the
	// stable refusal code: lost, frozen, expired, insufficient, ...).
	Refusals map[string]uint64 `json:"refusals,omitempty"`
	// RevokedNoticed is the time of the first device-revoked record (the
	// device learnt it was revoked and stopped taking money), at
	// RevokedNoticedSeq.
	RevokedNoticed    time.Time `json:"revoked_noticed,omitzero"`
	RevokedNoticedSeq uint64    `json:"revoked_noticed_seq,omitempty"`
	// StoreStarts counts store-started records (stores started anew).
	StoreStarts uint64 `json:"store_starts,omitempty"`
	// CardWrites counts card-write records (a card write's outcome at the
	// device, issue 15), Services service records (a trade the ledger
	// answered): evidence only, no money.
	CardWrites uint64    `json:"card_writes,omitempty"`
	Services   uint64    `json:"services,omitempty"`
	LastBatch  time.Time `json:"last_batch,omitzero"`
}

// Active reports whether the device is enrolled and not revoked.
func (d *Device) Active() bool { return d.PublicKey != nil && d.Revoked.IsZero() }

type token struct {
	Device  string    `json:"device"`
	Kind    string    `json:"kind"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitzero"`
	UsedKey []byte    `json:"used_key,omitempty"` // the key enrolled with it
	// Rekey: issued by Rekey, it may replace the enrolled key; any other
	// token enrols only a device without a key, or with the same key.
	Rekey bool `json:"rekey,omitempty"`
	// Site, when set, is the only site the token enrols the device at.
	Site string `json:"site,omitempty"`
}

func tokenKey(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// NewToken issues a one-time enrolment token for device id of kind ("pos",
// "gate" or "kiosk"), valid for Options.TokenTTL. Only its hash is stored;
// the token itself is shown once. A revoked device gets no token. A token
// for a device already enrolled re-enrols it only with the key it has (a
// device that lost the ledger's answer); to replace the key the operator
// uses Rekey.
func (l *Ledger) NewToken(id, kind string) (string, time.Time, error) {
	return l.NewSiteToken(id, kind, "")
}

// NewSiteToken is NewToken for a device to be installed at site: the token
// enrols it only when its enrolment names that site, and it authorises the
// move of an enrolled device to it. An empty site is NewToken's token,
// which takes the site the device names (and keeps an enrolled device
// where it is bound).
func (l *Ledger) NewSiteToken(id, kind, site string) (string, time.Time, error) {
	if site != "" && !protocol.ValidDeviceID(site) {
		return "", time.Time{}, fmt.Errorf("ledger: token: site %q: %w", site, ErrInvalid)
	}
	if !protocol.ValidDeviceID(id) {
		return "", time.Time{}, fmt.Errorf("ledger: token: device id %q: %w", id, ErrInvalid)
	}
	if !slices.Contains(deviceKinds, kind) {
		return "", time.Time{}, fmt.Errorf("ledger: token: kind %q, want one of %v: %w", kind, deviceKinds, ErrInvalid)
	}
	tok, exp, err := l.newTokenValue()
	if err != nil {
		return "", time.Time{}, err
	}
	err = l.db.Update(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, id)
		switch {
		case err == nil && !d.Revoked.IsZero():
			return fmt.Errorf("ledger: token: device %s: %w", id, ErrRevoked)
		case err != nil: // listed from now on, so that it can be revoked before it enrols
			g := protocol.GenesisHash(id)
			if err := putDevice(tx, Device{ID: id, Kind: kind, Head: g[:]}); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bucketTokens), tokenKey(tok), token{Device: id, Kind: kind, Expires: exp, Site: site})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	l.log.Info("enrolment token issued", "device", id, "kind", kind, "site", site, "expires", exp)
	return tok, exp, nil
}

// newTokenValue makes a token and its expiry.
func (l *Ledger) newTokenValue() (string, time.Time, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("ledger: token: %w", err)
	}
	return "ykt1-" + hex.EncodeToString(raw[:]), l.now().Add(l.opts.TokenTTL).UTC().Truncate(time.Second), nil
}

// Rekey authorises the next enrolment of an enrolled device to replace its
// key: it issues a one-time rekey token of the device's kind, valid for
// Options.TokenTTL, which the device enrols with (yktd run --enrol) from
// its new key. The journal state stays: the new key continues the chain.
// A device never enrolled gets ErrInvalid (it needs NewToken), an unknown
// one ErrNotFound. A revoked device stays revoked (ErrRevoked): its key is
// kept to collect its remaining records, and a replacement is enrolled
// under a new device id.
func (l *Ledger) Rekey(id string) (string, time.Time, error) {
	tok, exp, err := l.newTokenValue()
	if err != nil {
		return "", time.Time{}, err
	}
	err = l.db.Update(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, id)
		switch {
		case err != nil:
			return fmt.Errorf("ledger: rekey %s: %w", id, err)
		case !d.Revoked.IsZero():
			return fmt.Errorf("ledger: rekey %s: a revoked device stays revoked; enrol the replacement under a new device id: %w", id, ErrRevoked)
		case d.PublicKey == nil:
			return fmt.Errorf("ledger: rekey %s: not enrolled, it has no key to replace (ledgerd token new): %w", id, ErrInvalid)
		}
		return putJSON(tx.Bucket(bucketTokens), tokenKey(tok), token{Device: id, Kind: d.Kind, Expires: exp, Rekey: true})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	l.log.Warn("rekey token issued: the next enrolment of the device replaces its key", "device", id, "expires", exp)
	return tok, exp, nil
}

// EnrolParams is what a device sends to enrol (the server has already
// checked that the request is signed by PublicKey: proof of possession).
type EnrolParams struct {
	DeviceID  string
	Token     string
	PublicKey []byte
	Alg       int64
	Kind      string
	Firmware  string
	// TerminalID is the terminal id of the device's PSAM (nil: none, a
	// gate): bound to the device, or holding it when another live device
	// has it bound (PSAMBinding).
	TerminalID []byte
	// Site is where the device says it is installed ("" names none).
	Site string
}

// Enrol binds the device's public key using a one-time token. The token
// must exist, be unexpired, unused and issued for this device id (and
// kind, when the request names one). The same device retrying with the same
// token and key (its answer was lost) succeeds again; any other second use
// fails with ErrTokenInvalid. A revoked device gets ErrRevoked. A device
// already enrolled keeps its key: a token enrols it again only with that
// key, unless it is a rekey token (Rekey); another key with any other
// token is refused with ErrTokenInvalid, an AlertRebind is recorded and
// the token stays unused. The device's PSAM terminal id is bound to it, or
// holds it (PSAMBinding): the enrolment succeeds and Device.HeldCode says
// so. The device is bound to the site it names: a token for a site enrols
// only a device that names it; an enrolled device that names another site
// than its own moves only with a token for the new site or a rekey token,
// else it is refused (ErrTokenInvalid) with an AlertSiteMoved.
func (l *Ledger) Enrol(p EnrolParams) (Device, error) {
	var out Device
	var refusal error
	now := l.now().UTC()
	err := l.db.Update(func(tx *bolt.Tx) error {
		refusal = nil
		tb := tx.Bucket(bucketTokens)
		var t token
		if err := getJSON(tb, tokenKey(p.Token), &t); err != nil {
			return fmt.Errorf("ledger: enrol %s: unknown token: %w", p.DeviceID, ErrTokenInvalid)
		}
		switch {
		case t.Device != p.DeviceID:
			return fmt.Errorf("ledger: enrol %s: token issued for another device: %w", p.DeviceID, ErrTokenInvalid)
		case p.Kind != "" && p.Kind != t.Kind:
			return fmt.Errorf("ledger: enrol %s: token is for a %s, not a %s: %w", p.DeviceID, t.Kind, p.Kind, ErrTokenInvalid)
		case !t.Used.IsZero() && !bytes.Equal(t.UsedKey, p.PublicKey):
			return fmt.Errorf("ledger: enrol %s: token already used: %w", p.DeviceID, ErrTokenInvalid)
		case t.Used.IsZero() && !now.Before(t.Expires):
			return fmt.Errorf("ledger: enrol %s: token expired %s: %w", p.DeviceID, t.Expires.Format(time.RFC3339), ErrTokenInvalid)
		case t.Site != "" && p.Site != t.Site:
			return fmt.Errorf("ledger: enrol %s: token is for site %s, the device says it is at %q: %w", p.DeviceID, t.Site, p.Site, ErrTokenInvalid)
		}
		d, err := getDevice(tx, p.DeviceID)
		switch {
		case err == nil && !d.Revoked.IsZero():
			return fmt.Errorf("ledger: enrol %s: %w", p.DeviceID, ErrRevoked)
		case err == nil && d.PublicKey != nil && !bytes.Equal(d.PublicKey, p.PublicKey) && !t.Used.IsZero():
			return fmt.Errorf("ledger: enrol %s: token already used: %w", p.DeviceID, ErrTokenInvalid)
		case err != nil:
			g := protocol.GenesisHash(p.DeviceID)
			d = Device{ID: p.DeviceID, Head: g[:]}
		}
		rebind := d.PublicKey != nil && !bytes.Equal(d.PublicKey, p.PublicKey)
		if rebind && t.Used.IsZero() && !t.Rekey {
			fp := protocol.Fingerprint(p.PublicKey)
			n, err := putAlert(tx, Alert{Kind: AlertRebind, Device: p.DeviceID, Key: fp, Time: now,
				Reason: "an enrolment with a fresh token offered another key than the enrolled one; the enrolled key stays (ledgerd device rekey if the device really has a new key)"})
			if err != nil {
				return err
			}
			l.log.Error("enrolment refused: the device is enrolled with another key", "device", p.DeviceID, "offered_key", fp, "alert", n)
			refusal = fmt.Errorf("ledger: enrol %s: enrolled with another key; only a rekey token (ledgerd device rekey %s) replaces it (alert %d): %w",
				p.DeviceID, p.DeviceID, n, ErrTokenInvalid)
			return nil // the alert is kept, the token stays unused
		}
		moved := d.Site != "" && p.Site != "" && p.Site != d.Site
		if moved && t.Used.IsZero() && t.Site != p.Site && !t.Rekey {
			n, err := putAlert(tx, Alert{Kind: AlertSiteMoved, Device: p.DeviceID, Site: p.Site, BoundSite: d.Site, Time: now,
				Reason: "an enrolment named another site than the one the device is bound to, with a token that does not authorise the move (ledgerd token new --site NEW or ledgerd device rekey)"})
			if err != nil {
				return err
			}
			l.log.Error("enrolment refused: the device says it is at another site than the one it is bound to", "device", p.DeviceID,
				"site", p.Site, "bound_site", d.Site, "alert", n)
			refusal = fmt.Errorf("ledger: enrol %s: bound to site %s, not %s; a move needs a token for the new site (ledgerd token new --device %s --site %s) or a rekey (alert %d): %w",
				p.DeviceID, d.Site, p.Site, p.DeviceID, p.Site, n, ErrTokenInvalid)
			return nil // the alert is kept, the token stays unused
		}
		if t.Used.IsZero() {
			if moved {
				l.log.Warn("device moved to another site", "device", p.DeviceID, "from", d.Site, "to", p.Site)
			}
			if p.Site != "" {
				d.Site = p.Site
			}
			t.Used, t.UsedKey = now, p.PublicKey
			if err := putJSON(tb, tokenKey(p.Token), t); err != nil {
				return err
			}
			if rebind { // a rekey token: the journal state stays, the new key continues the chain
				d.Rekeyed = now
				l.log.Warn("device re-keyed", "device", p.DeviceID, "key", protocol.Fingerprint(p.PublicKey))
			}
			d.PublicKey, d.Alg, d.Kind, d.Firmware, d.Enrolled = p.PublicKey, p.Alg, t.Kind, p.Firmware, now
			if _, err := l.seeTerminal(tx, &d, p.TerminalID, sighting{what: "enrolment"}, now); err != nil {
				return err
			}
			if err := putDevice(tx, d); err != nil {
				return err
			}
		}
		out = d
		return nil
	})
	if err == nil {
		err = refusal
	}
	if err != nil {
		return Device{}, err
	}
	l.log.Info("device enrolled", "device", p.DeviceID, "kind", out.Kind, "site", out.Site, "firmware", p.Firmware, "terminal_id", TerminalHex(p.TerminalID),
		"held", out.HeldCode() != 0)
	return out, nil
}

// Revoke revokes a device: from now on it gets nothing (ErrRevoked) but
// the acknowledgement of its remaining records, which are still collected
// (Intake) so that nothing it recorded is stranded. Its records stay. A
// revoked device stays revoked: a replacement is enrolled under a new
// device id.
func (l *Ledger) Revoke(id string) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, id)
		if err != nil {
			return fmt.Errorf("ledger: revoke %s: %w", id, err)
		}
		if d.Revoked.IsZero() {
			d.Revoked = l.now().UTC()
		}
		return putDevice(tx, d)
	})
	if err == nil {
		l.log.Warn("device revoked", "device", id)
	}
	return err
}

// Device returns one device (ErrNotFound).
func (l *Ledger) Device(id string) (Device, error) {
	var d Device
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDevice(tx, id)
		return err
	})
	return d, err
}

// ActiveDevice returns an enrolled, not revoked device, or ErrUnknownDevice
// or ErrRevoked.
func (l *Ledger) ActiveDevice(id string) (Device, error) {
	d, err := l.Device(id)
	switch {
	case err != nil || d.PublicKey == nil:
		return Device{}, fmt.Errorf("ledger: device %q: %w", id, ErrUnknownDevice)
	case !d.Revoked.IsZero():
		return Device{}, fmt.Errorf("ledger: device %q: %w", id, ErrRevoked)
	}
	return d, nil
}

// Devices lists every device known to the ledger, by id.
func (l *Ledger) Devices() ([]Device, error) {
	var out []Device
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("ledger: device %q: %w: %w", k, ErrCorrupt, err)
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

func getDevice(tx *bolt.Tx, id string) (Device, error) {
	var d Device
	if err := getJSON(tx.Bucket(bucketDevices), []byte(id), &d); err != nil {
		return Device{}, fmt.Errorf("ledger: device %q: %w", id, err)
	}
	return d, nil
}

func putDevice(tx *bolt.Tx, d Device) error {
	return putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d)
}

// getJSON decodes the JSON value at k; ErrNotFound when absent.
func getJSON(b *bolt.Bucket, k []byte, v any) error {
	raw := b.Get(k)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("ledger: encode: %w", err)
	}
	return b.Put(k, raw)
}

func getJSONBytes(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}
