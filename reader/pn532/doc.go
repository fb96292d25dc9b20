// Package pn532 drives an NXP PN532 NFC module on a UART (HSU) as a
// reader.Reader: it wakes and configures the module, polls for ISO 14443
// type A cards with InListPassiveTarget, and exchanges APDUs with them
// through InDataExchange.
//
// # Protocol
//
// Frames (user manual section 6.2.1): normal information frames
// 00 00 FF LEN LCS TFI data DCS 00, extended frames 00 00 FF FF FF LENM LENL
// LCS TFI data DCS 00 (used for more than 254 data bytes), ACK
// 00 00 FF 00 FF 00, NACK 00 00 FF FF 00 00 and the error frame
// 00 00 FF 01 FF 7F 81 00. DecodeFrame and Decoder resynchronise on the next
// start code after garbage; bad checksums are ErrChecksum and other bad
// frames ErrFrame, both wrapping reader.ErrMalformed.
//
// Each command is one exchange, never two at once: the 55 55 00.. wake-up
// preamble first when the module may sleep (first command on a port, after
// an abort, after Timeouts.Idle of silence); the command frame; the ACK
// within Timeouts.ACK; the response within Timeouts.Response
// (Timeouts.Exchange for InDataExchange). A garbled response is answered
// with NACK (the module resends its last response) at most twice, then the
// error wraps reader.ErrMalformed. A garbled frame before the ACK is taken
// for the ACK and not NACKed: a NACK then could bring back the previous
// command's response. A NACK from the module makes the driver
// resend the command frame, at most twice (ErrNACK). A timeout or a
// cancelled context aborts the command with an ACK frame and returns an
// error wrapping reader.ErrTimeout (and ctx.Err()).
//
// Setup is GetFirmwareVersion (IC must be 0x32), SAMConfiguration normal
// mode, and RFConfiguration MaxRetries with two passive activation
// retries, so that InListPassiveTarget answers "no card" at once instead of
// waiting forever. A card in the field is checked with Diagnose NumTst 6
// (ISO 14443-4 presence) every PollInterval; InDataExchange status 01
// (the card did not answer) is followed by the same check, so that a card
// torn away is reader.ErrCardRemoved and a slow one reader.ErrTimeout.
// Other module statuses are *ModuleError (wrapping reader.ErrCardRemoved
// for 29 and 2B, reader.ErrTransport otherwise). APDUs longer than MaxAPDU
// (262 bytes) are refused with ErrTooLong; chained (MI) responses are not
// supported.
//
// The CardPresent event carries the ATR a PC/SC reader would build from
// the ATS (ATRFromATS), so a card looks the same through both drivers. A
// card without ISO 14443-4 (SAK bit 0x20 clear, e.g. MIFARE Classic) is
// announced as reader.TechMifare with its UID and no ATR, for
// identity-only use; its Transmit fails (reader.ErrTransport), and since
// Diagnose's presence test only covers ISO 14443-4, its presence is
// checked by InRelease and InListPassiveTarget finding the same UID.
//
// # go.bug.st/serial on a pseudo-terminal
//
// Tests run the driver on the slave of a pty pair (internal/ptytest)
// through go.bug.st/serial v1.6.4, the same code path as /dev/ttyUSB0.
// What we found, as root on Linux:
//
//   - serial.Open succeeds on a pty slave at any speed, standard (9600 to
//     921600) or not (250000, 1000000 through TCSETS2/BOTHER): the pty
//     line discipline stores the termios speed and ignores it. So baud
//     mismatches cannot be tested on a pty; they can only be on hardware.
//   - Modem control lines do not exist on a pty: SetDTR, SetRTS and
//     GetModemStatusBits fail with ENOTTY, and Mode.InitialStatusBits would
//     make serial.Open fail. The driver never touches them (the PN532's
//     HSU does not use them).
//   - With a read timeout set, Read returns (0, nil) when it expires. The
//     driver never sets one: a read loop blocks in Read (which Close
//     interrupts through go-serial's internal pipe) and commands wait on
//     timers and ctx.
//   - When the master is closed (module unplugged) the slave reads end of
//     file, which go-serial reports as PortError PortClosed; Run returns
//     it wrapped in reader.ErrTransport.
//   - go-serial takes TIOCEXCL on the port, but root bypasses it: a second
//     open of the same pty succeeded in the tests. Exclusivity against
//     another process is only effective for a non-root yktd.
package pn532
