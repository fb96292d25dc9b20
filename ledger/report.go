package ledger

import (
	"slices"
	"time"
)

// Report is the ledger's settlement and audit summary.
type Report struct {
	Generated     time.Time      `json:"generated"`
	Devices       []DeviceReport `json:"devices"`
	Alerts        []Alert        `json:"alerts"`
	StatusVersion uint64         `json:"status_version"`
	StatusCards   uint64         `json:"status_cards"`
}

// DeviceReport is one device's part of a Report: its records, sums of
// debits and loads, open and uncertain intents, refused batches (gaps,
// broken chains, forks) and the TACs that did not verify.
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
}

// Report builds the report over every device.
func (l *Ledger) Report() (Report, error) {
	devs, err := l.Devices()
	if err != nil {
		return Report{}, err
	}
	rep := Report{Generated: l.now().UTC()}
	for _, d := range devs {
		dr := DeviceReport{ID: d.ID, Kind: d.Kind, Enrolled: d.Enrolled, Revoked: d.Revoked, HighWater: d.HighWater, Stats: d.Stats}
		intents, err := l.OpenIntents(d.ID)
		if err != nil {
			return Report{}, err
		}
		for id, s := range intents {
			if s == "uncertain" {
				dr.UncertainIntents = append(dr.UncertainIntents, id)
			} else {
				dr.OpenIntents = append(dr.OpenIntents, id)
			}
		}
		slices.Sort(dr.UncertainIntents)
		slices.Sort(dr.OpenIntents)
		if dr.Flagged, err = l.Flagged(d.ID); err != nil {
			return Report{}, err
		}
		rep.Devices = append(rep.Devices, dr)
	}
	if rep.Alerts, err = l.Alerts(); err != nil {
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
