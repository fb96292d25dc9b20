// Package terminal is the daemon of a yktd terminal: it wires the
// configured readers, board, store and sync client to the flow of the
// device's kind — terminal/pos (canteen, shower and hot-water meters),
// terminal/gate (turnstiles and doors), terminal/kiosk (the 圈存 kiosk, to
// come) — decides the device's money holds (terminal/hold) from the store,
// and serves the control interface. The card reading all kinds share is in
// terminal/cardread, the decisions in terminal/policy (pure functions). No
// kind imports another; each is tested on its own.
//
// # Control interface
//
// The daemon's local HTTP API (docs/control.md): on a 0600 unix socket, or
// on loopback TCP with Host and Origin checks and the per-device credential
// (data_dir/control.token) for everything that changes state or money.
// ControlClient is its client for the rig, tests and tools.
package terminal
