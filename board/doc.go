// Package board drives the terminal's GPIO: relays (turnstile arms, door
// strikes, valves), digital inputs (passage sensors, fire alarm, door
// contact, tamper) and indicators (LEDs, the buzzer).
//
// A Board is built from a Spec (board imports nothing of yktd: the daemon
// maps its configuration file to a Spec) and a Pins backend: PeriphPins for
// the real GPIO through periph.io, or boardtest.Pins for simulated pins.
// Everything that depends on time (pulse length, debounce, blink patterns)
// reads the Clock given in Options, so tests drive it with a fake clock and
// never sleep.
//
// Safety: every relay is driven to its configured safe state when the Board
// is built, on Halt and on Close; a relay is "active" when it is out of its
// safe state (energised for a safe-off relay, de-energised for a safe-on
// fail-safe lock). Pulse, Hold and Release speak of active and safe, never
// of pin levels: active-low wiring is handled per pin from the Spec.
package board
