package config

// Reader drivers.
const (
	DriverPCSC    = "pcsc"    // PC/SC reader through pcscd
	DriverPN532   = "pn532"   // NXP PN532 NFC module on a UART
	DriverQRScan  = "qrscan"  // serial QR / barcode scanner, one code per line
	DriverWiegand = "wiegand" // Wiegand reader on two GPIO lines
	DriverSim     = "sim"     // virtual reader with virtual cards (rig, demo)
)

// Reader is one credential reader. Which keys apply depends on Driver.
type Reader struct {
	// Name identifies the reader in logs and events; default the driver name.
	Name string `toml:"name"`
	// Driver is pcsc, pn532, qrscan, wiegand or sim.
	Driver string `toml:"driver"`

	// PC/SC: Match selects readers whose name contains it (empty: all);
	// Backend is pure (default), cgo or auto.
	Match   string `toml:"match"`
	Backend string `toml:"backend"`

	// Serial (pn532, qrscan): device path and baud rate.
	Device string `toml:"device"`
	Baud   int    `toml:"baud"`

	// Wiegand: the D0 and D1 GPIO pin names (periph names such as "GPIO17").
	D0 string `toml:"d0"`
	D1 string `toml:"d1"`
}

func (r *Reader) defaults() {
	if r.Name == "" {
		r.Name = r.Driver
	}
}

func (r *Reader) validate() error {
	switch r.Driver {
	case DriverPCSC, DriverSim:
	case DriverPN532, DriverQRScan:
		if r.Device == "" {
			return invalid("reader %q: device is required for driver %s", r.Name, r.Driver)
		}
	case DriverWiegand:
		if r.D0 == "" || r.D1 == "" {
			return invalid("reader %q: d0 and d1 pins are required for driver wiegand", r.Name)
		}
	default:
		return invalid("reader %q: driver %q: want pcsc, pn532, qrscan, wiegand or sim", r.Name, r.Driver)
	}
	return nil
}
