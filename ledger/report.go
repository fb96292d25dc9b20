package ledger

import (
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Report is the ledger's settlement and audit summary.
type Report struct {
	Generated time.Time      `json:"generated"`
	Devices   []DeviceReport `json:"devices"`
	Alerts    []Alert        `json:"alerts"`
	// Sightings are the listed cards (lost, frozen, cancelled) presented
	// at a device and refused there, oldest first: where a lost card
	// turned up.
	Sightings     []Sighting `json:"listed_cards_presented"`
	StatusVersion uint64     `json:"status_version"`
	StatusCards   uint64     `json:"status_cards"`
}

// DeviceReport is one device's part of a Report: its records, sums of
// debits and loads, open and uncertain intents, refused batches (gaps,
// broken chains, forks), the TACs that did not verify, its POS refusals
// by reason (Stats.Refusals), what it collected after its revocation and
// its journal epochs.
type DeviceReport struct {
	ID        string      `json:"id"`
	Kind      string      `json:"kind"`
	Enrolled  time.Time   `json:"enrolled,omitzero"`
	Revoked   time.Time   `json:"revoked,omitzero"`
	HighWater uint64      `json:"high_water"`
	Stats     DeviceStats `json:"stats"`
	// UncertainIntents lists the intents (journal sequences) still
	// uncertain; OpenIntents those with no outcome record yet.
	UncertainIntents []uint64    `json:"uncertain_intents,omitempty"`
	OpenIntents      []uint64    `json:"open_intents,omitempty"`
	Flagged          []TACResult `json:"flagged_tacs,omitempty"`
	// Epoch is the device's current journal epoch (HighWater is its);
	// ClosedEpochs its earlier ones, with their intents left unresolved.
	Epoch        uint64        `json:"epoch,omitempty"`
	EpochStarted time.Time     `json:"epoch_started,omitzero"`
	ClosedEpochs []EpochReport `json:"closed_epochs,omitempty"`
	// PSAM is the device's binding to its PSAM and the ledger's hold on
	// it, if any.
	PSAM PSAMBinding `json:"psam,omitzero"`
}

// EpochReport is a closed journal epoch of a device in a Report.
type EpochReport struct {
	EpochState
	UncertainIntents []uint64 `json:"uncertain_intents,omitempty"`
	OpenIntents      []uint64 `json:"open_intents,omitempty"`
}

// Report builds the report over every device.
func (l *Ledger) Report() (Report, error) {
	devs, err := l.Devices()
	if err != nil {
		return Report{}, err
	}
	rep := Report{Generated: l.now().UTC()}
	for _, d := range devs {
		dr := DeviceReport{ID: d.ID, Kind: d.Kind, Enrolled: d.Enrolled, Revoked: d.Revoked, HighWater: d.HighWater, Stats: d.Stats, Epoch: d.Epoch,
			EpochStarted: d.EpochStarted, PSAM: d.PSAM}
		if dr.OpenIntents, dr.UncertainIntents, err = l.intentLists(d.ID, d.Epoch); err != nil {
			return Report{}, err
		}
		for _, c := range d.Closed {
			er := EpochReport{EpochState: c}
			if er.OpenIntents, er.UncertainIntents, err = l.intentLists(d.ID, c.Epoch); err != nil {
				return Report{}, err
			}
			dr.ClosedEpochs = append(dr.ClosedEpochs, er)
		}
		if dr.Flagged, err = l.Flagged(d.ID); err != nil {
			return Report{}, err
		}
		rep.Devices = append(rep.Devices, dr)
	}
	if rep.Alerts, err = l.Alerts(); err != nil {
		return Report{}, err
	}
	if rep.Sightings, err = l.Sightings(); err != nil {
		return Report{}, err
	}
	if rep.StatusVersion, _, err = l.StatusVersion(); err != nil {
		return Report{}, err
	}
	if rep.StatusCards, err = l.StatusCount(); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// intentLists returns the open and the uncertain intents of a device's
// journal epoch, sorted.
func (l *Ledger) intentLists(device string, epoch uint64) (open, uncertain []uint64, err error) {
	var m map[uint64]string
	err = l.db.View(func(tx *bolt.Tx) error {
		m, err = openIntents(tx, space(device, epoch))
		return err
	})
	for id, s := range m {
		if s == "uncertain" {
			uncertain = append(uncertain, id)
		} else {
			open = append(open, id)
		}
	}
	slices.Sort(open)
	slices.Sort(uncertain)
	return open, uncertain, err
}
