package config

import (
	"path/filepath"

	"github.com/openykt/yktd/protocol"
)

// Device kinds.
const (
	KindPOS   = "pos"   // canteen POS, shower or hot-water meter
	KindGate  = "gate"  // turnstile, dorm door, library gate
	KindKiosk = "kiosk" // 圈存 load kiosk: claims the money waiting at the ledger onto the card
	// KindDesk is the service desk (管理中心 window): a kiosk's session
	// and services under a signed-in operator's authority, plus the
	// desk's own (PIN reset, unblock, 补写 of any pending write).
	KindDesk = "desk"
)

// Device says what this terminal is and where it keeps its state.
type Device struct {
	// ID is the device id the ledger enrolled (also the journal's genesis input).
	ID string `toml:"id"`
	// Kind is pos, gate or kiosk.
	Kind string `toml:"kind"`
	// Site names where the device is installed (a canteen window, a
	// building's gate), as `yktd provision --site` wrote it: optional,
	// 1..64 of A-Z a-z 0-9 . _ : - (the protocol's name characters).
	Site string `toml:"site"`
	// DataDir holds the store and the device's identity (device key,
	// pinned ledger key, store epoch).
	DataDir string `toml:"data_dir"`
	// Store is the bbolt file; default DataDir/yktd.db.
	Store string `toml:"store"`
	// SAM selects the PSAM: "pcsc:<reader name>" for a PSAM card in a
	// PC/SC slot, or "soft:<key file>" for the software SAM (rig, development).
	SAM string `toml:"sam"`
	// Timezone for card dates, meal periods and time profiles; default Asia/Shanghai.
	Timezone string `toml:"timezone"`
	// Language of the customer display first line: "zh" (default) or "en";
	// the display always carries both.
	Language string `toml:"language"`
	// LogFormat is "json" (default, for the field) or "text" (console).
	LogFormat string `toml:"log_format"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `toml:"log_level"`
}

func (d *Device) defaults() {
	if d.Store == "" && d.DataDir != "" {
		d.Store = filepath.Join(d.DataDir, "yktd.db")
	}
	if d.Timezone == "" {
		d.Timezone = "Asia/Shanghai"
	}
	if d.Language == "" {
		d.Language = "zh"
	}
	if d.LogFormat == "" {
		d.LogFormat = "json"
	}
	if d.LogLevel == "" {
		d.LogLevel = "info"
	}
}

func (d *Device) validate() error {
	if d.ID == "" {
		return invalid("device.id is required")
	}
	switch d.Kind {
	case KindPOS, KindGate, KindKiosk, KindDesk:
	default:
		return invalid("device.kind %q: want pos, gate, kiosk or desk", d.Kind)
	}
	if d.Site != "" && !protocol.ValidDeviceID(d.Site) {
		return invalid("device.site %q: want 1..64 of A-Z a-z 0-9 . _ : -", d.Site)
	}
	if d.Store == "" {
		return invalid("device.data_dir or device.store is required")
	}
	switch d.Language {
	case "zh", "en":
	default:
		return invalid("device.language %q: want zh or en", d.Language)
	}
	switch d.LogFormat {
	case "json", "text":
	default:
		return invalid("device.log_format %q: want json or text", d.LogFormat)
	}
	switch d.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("device.log_level %q: want debug, info, warn or error", d.LogLevel)
	}
	return nil
}
