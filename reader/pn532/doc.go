// Package pn532 drives an NXP PN532 NFC module on a UART (HSU) as a
// reader.Reader: it wakes and configures the module, polls for ISO 14443
// type A cards with InListPassiveTarget, and exchanges APDUs with them
// through InDataExchange.
package pn532
