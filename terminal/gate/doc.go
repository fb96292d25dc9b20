// Package gate is the gate flow of a yktd terminal (turnstiles, dorm and
// library doors): a credential (campus card, QR code, Wiegand number, UID
// where the configuration allows it) is checked against the status list,
// the signed access rules (groups, time profiles, holidays) and
// anti-passback, the in or out relay is pulsed, the passage sensor is
// awaited and the event journaled; the fire alarm releases every lane, and
// door held-open, forced-open and tamper inputs are journaled alarms.
// Everything is decided offline.
package gate
