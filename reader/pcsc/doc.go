// Package pcsc is yktd's PC/SC reader driver: it lists the readers pcscd
// knows, watches them for cards (reader.Reader), and exchanges APDUs with
// the cards (reader.Card).
//
// # Backends
//
// Two backends sit behind one internal interface (backend, session,
// handle) and behave the same:
//
//   - Cgo: libpcsclite through github.com/ebfe/scard, compiled only with
//     cgo (files with //go:build cgo). Card waits use SCardGetStatusChange
//     over the readers plus `\\?PnP?\Notification` for hot-plug, and
//     ctx.Done interrupts them with SCardCancel.
//   - Pure: a pure-Go client of pcscd's Unix-socket protocol, the only
//     backend of a CGO_ENABLED=0 build (yktd's static binary) and
//     selectable in cgo builds. The socket is /run/pcscd/pcscd.comm unless
//     PCSCLITE_CSOCK_NAME names another, as for libpcsclite.
//
// Auto picks Cgo when compiled in, Pure otherwise. yktd's --backend flag
// takes pure, cgo or auto.
//
// # The pcscd protocol spoken by the pure-Go backend
//
// Target: message protocol 4.4 (PROTOCOL_VERSION_MAJOR 4, _MINOR 4 in
// pcsc-lite's src/winscard_msg.h), the protocol of pcsc-lite 1.9.9 in
// Debian 12, checked against a running pcscd 1.9.9 ("Client is protocol
// version 4:4"). Newer pcscd (2.x, protocol 4.5) still accepts 4.4
// clients. Each PC/SC context is one socket connection, as in libpcsclite:
// one for watching readers, one per connected card, so that card I/O never
// waits behind a blocked status wait.
//
// Every request is a header {uint32 size; uint32 command} followed by
// size bytes of a command struct; replies are the same struct with rv (a
// SCARD_* code) filled in, without header. Integers are little-endian
// host integers (amd64, arm and arm64 all are). The structs used:
//
//	CMD_VERSION 0x11          version_struct    {int32 major, minor; uint32 rv}                12 bytes
//	ESTABLISH_CONTEXT 0x01    establish_struct  {uint32 dwScope, hContext, rv}                 12 bytes
//	RELEASE_CONTEXT 0x02      release_struct    {uint32 hContext, rv}                           8 bytes
//	CONNECT 0x04              connect_struct    {uint32 hContext; char szReader[128];
//	                                             uint32 dwShareMode, dwPreferredProtocols;
//	                                             int32 hCard; uint32 dwActiveProtocol, rv}    152 bytes
//	DISCONNECT 0x06           disconnect_struct {int32 hCard; uint32 dwDisposition, rv}        12 bytes
//	TRANSMIT 0x09             transmit_struct   {int32 hCard; uint32 ioSendPciProtocol,
//	                                             ioSendPciLength, cbSendLength,
//	                                             ioRecvPciProtocol, ioRecvPciLength,
//	                                             pcbRecvLength, rv}                             32 bytes
//	                          then cbSendLength command bytes; the reply struct is followed
//	                          by pcbRecvLength response bytes only when rv is SCARD_S_SUCCESS
//	STATUS 0x0B               status_struct     {int32 hCard; uint32 rv}                        8 bytes
//	CMD_GET_READERS_STATE 0x12               no body; reply: the reader table
//	CMD_WAIT_READER_STATE_CHANGE 0x13        no body; reply: the reader table at once, then
//	                          one wait_reader_state_change {uint32 timeOut, rv} (8 bytes)
//	                          when any reader event happens
//	CMD_STOP_WAITING_READER_STATE_CHANGE 0x14 no body; reply: wait_reader_state_change,
//	                          only if the event has not been sent yet (so exactly one
//	                          8-byte struct ends every registration)
//
// The reader table is PCSCLITE_MAX_READERS_CONTEXTS (16) entries of
// READER_STATE, 184 bytes each, 2944 in all; unused entries have an empty
// name:
//
//	offset   0  char     readerName[128]  NUL-terminated
//	offset 128  uint32   eventCounter     bumped on each card insertion/removal
//	offset 132  uint32   readerState      SCARD_ABSENT 0x2, SCARD_PRESENT 0x4, SCARD_POWERED 0x10...
//	offset 136  int32    readerSharing    -1 exclusive, 0 unused, n shared users
//	offset 140  uint8    cardAtr[33]
//	offset 173           3 bytes padding
//	offset 176  uint32   cardAtrLength    at most 33
//	offset 180  uint32   cardProtocol
//
// The decoder checks every length against these sizes: a short or long
// struct, a name without NUL, an ATR longer than 33 bytes or a response
// longer than asked for is ErrProtocol (wrapping reader.ErrTransport) and
// the connection is dropped; nothing is allocated from a length the daemon
// sent before it was bounded.
//
// # Errors
//
// PC/SC codes map to the reader sentinels through *Error:
// SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD, SCARD_W_RESET_CARD,
// SCARD_W_UNPOWERED_CARD and SCARD_W_UNRESPONSIVE_CARD are
// reader.ErrCardRemoved, SCARD_E_TIMEOUT is reader.ErrTimeout, anything
// else reader.ErrTransport. A transmit that fails otherwise (pcscd says
// SCARD_E_NOT_TRANSACTED when a card is torn mid-command) becomes
// reader.ErrCardRemoved if pcscd reports the card gone within
// Options.RemovalGrace.
package pcsc
