package ledger

import (
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// sightingReasons are the refusal reasons of a card that should not be in
// anybody's hand: where such a card is presented goes into the report.
var sightingReasons = map[string]bool{"lost": true, "frozen": true, "cancelled": true}

// maxRefusalReasons bounds the reasons counted per device (a reason is a
// device's string): beyond it they count under "other".
const maxRefusalReasons = 32

// Sighting is a listed card (lost, frozen or cancelled) presented at a
// device: a purchase-refused or gate-denied record with that reason. The
// operator learns where a lost card turned up.
type Sighting struct {
	N      uint64 `json:"n"`
	Device string `json:"device"`
	Epoch  uint64 `json:"epoch,omitempty"`
	Seq    uint64 `json:"seq"`
	Kind   string `json:"kind"` // the record's kind: purchase-refused, gate-denied
	CardNo string `json:"card_no"`
	Reason string `json:"reason"`
	// Time is the record's time (the device's clock), Received when the
	// ledger got it.
	Time     time.Time `json:"time"`
	Received time.Time `json:"received"`
}

// noteEvent accounts the records that move no money but that the report
// shows: POS refusals (per reason) and the listed cards presented, the
// device journaling its revocation, a store started anew.
func noteEvent(tx *bolt.Tx, d *Device, epoch uint64, r *protocol.Record, now time.Time) error {
	st := &d.Stats
	switch r.Kind {
	case protocol.KindPurchaseRefused:
		reason := r.Reason
		if reason == "" {
			reason = "unknown"
		}
		if _, ok := st.Refusals[reason]; !ok && len(st.Refusals) >= maxRefusalReasons {
			reason = "other"
		}
		if st.Refusals == nil {
			st.Refusals = map[string]uint64{}
		}
		st.Refusals[reason]++
	case protocol.KindDeviceRevoked:
		if st.RevokedNoticed.IsZero() {
			st.RevokedNoticed, st.RevokedNoticedSeq = r.WallTime(), r.Seq
		}
		return nil
	case protocol.KindStoreStarted:
		st.StoreStarts++
		if r.Seq == 1 {
			d.started = r.WallTime() // advance puts it on the epoch
		}
		return nil
	case protocol.KindCardWrite:
		st.CardWrites++
		return nil
	case protocol.KindService:
		st.Services++
		return nil
	case protocol.KindGateDenied:
	default:
		return nil
	}
	if !sightingReasons[r.Reason] || !ValidCardNo(r.CardNo) {
		return nil
	}
	n, err := nextSeq(tx, keySightingSeq)
	if err != nil {
		return err
	}
	return putJSON(tx.Bucket(bucketSightings), be64(n), Sighting{N: n, Device: d.ID, Epoch: epoch, Seq: r.Seq, Kind: r.Kind.String(),
		CardNo: r.CardNo, Reason: r.Reason, Time: r.WallTime(), Received: now})
}

// Sightings returns every listed card presented, oldest first.
func (l *Ledger) Sightings() ([]Sighting, error) {
	var out []Sighting
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSightings).ForEach(func(_, v []byte) error {
			var s Sighting
			if err := getJSONBytes(v, &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}
