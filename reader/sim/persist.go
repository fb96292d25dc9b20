package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/openykt/yktd/internal/atomicfile"
	"github.com/openykt/yktd/reader/epurse"
)

// stateVersion is the version of the card state file format: 2 added the
// system PIN, 3 the files 0x15 and 0x12 as written (card writes under
// secure messaging), the application block state and the write keys. A
// version 1 file loads as a card without a system PIN; a version 1 or 2
// file loads with files 0x15 and 0x12 as issued from its profile, not
// blocked, and without the write keys (it refuses secure writes: 6A88).
const stateVersion = 3

// ErrStateFile: a card state file is malformed or of another version.
var ErrStateFile = errors.New("sim: bad card state file")

// cardState is everything a real card keeps in EEPROM: the personalisation
// (Profile, keys) and the purse (balance, counters, PIN tries, log, proofs).
type cardState struct {
	Version        int             `json:"version"`
	Profile        Profile         `json:"profile"`
	Keys           epurse.CardKeys `json:"keys"`
	Balance        uint32          `json:"balance"`
	OfflineCounter uint16          `json:"offline_counter"`
	OnlineCounter  uint16          `json:"online_counter"`
	PINTries       int             `json:"pin_tries"`
	SystemPIN      string          `json:"system_pin,omitempty"` // digits; "" when issued without one
	SystemPINTries int             `json:"system_pin_tries"`
	Log            [][]byte        `json:"log"` // file 0x18 records, newest first
	Proofs         []proof         `json:"proofs"`
	// Public and Campus are files 0x15 and 0x12 as the card holds them
	// (issued from Profile, rewritten by UPDATE BINARY under secure
	// messaging); nil in files before version 3.
	Public []byte `json:"public,omitempty"`
	Campus []byte `json:"campus,omitempty"`
	// Blocked is the application block state: blockNone, blockTemporary
	// (APPLICATION BLOCK P2 00) or blockPermanent (P2 01).
	Blocked byte `json:"blocked,omitempty"`
}

// Application block states (cardState.Blocked).
const (
	blockNone      byte = 0
	blockTemporary byte = 1
	blockPermanent byte = 2
)

// proof is what GET TRANSACTION PROVE returns for one transaction.
type proof struct {
	Type    byte    `json:"type"`
	Counter uint16  `json:"counter"` // the card's counter after the transaction
	MAC     [4]byte `json:"mac"`
	TAC     [4]byte `json:"tac"`
}

// Limits of the cyclic log and of the proofs kept. Like a real card OS,
// the virtual card keeps the MAC and TAC of its last transaction only (a
// purchase's proof is gone once a load followed it, and the other way
// round); an older transaction is found only in the log, which holds the
// ten newest records and overwrites the oldest.
const (
	logRecords = 10
	keptProofs = 1
)

func (s *cardState) clone() *cardState {
	c := *s
	c.Profile.PIN = s.Profile.PIN
	c.Keys = epurse.CardKeys{DPK: slices.Clone(s.Keys.DPK), DLK: slices.Clone(s.Keys.DLK), DTK: slices.Clone(s.Keys.DTK),
		DAMK: slices.Clone(s.Keys.DAMK), DABK: slices.Clone(s.Keys.DABK), DAUK: slices.Clone(s.Keys.DAUK), DRPK: slices.Clone(s.Keys.DRPK)}
	c.Public, c.Campus = slices.Clone(s.Public), slices.Clone(s.Campus)
	c.Log = make([][]byte, len(s.Log))
	for i, r := range s.Log {
		c.Log[i] = slices.Clone(r)
	}
	c.Proofs = slices.Clone(s.Proofs)
	return &c
}

// issueFiles writes files 0x15 and 0x12 from the profile where the state
// has none (a new card, a state file before version 3).
func (s *cardState) issueFiles() {
	if s.Public == nil {
		s.Public = s.Profile.PublicData().Bytes()
	}
	if s.Campus == nil {
		s.Campus = epurse.CampusData{TxnLimit: s.Profile.TxnLimit, DailyLimit: s.Profile.DailyLimit}.Bytes()
	}
}

func (s *cardState) addLog(rec []byte) {
	s.Log = append([][]byte{rec}, s.Log...)
	if len(s.Log) > logRecords {
		s.Log = s.Log[:logRecords]
	}
}

func (s *cardState) addProof(p proof) {
	s.Proofs = append([]proof{p}, s.Proofs...)
	if len(s.Proofs) > keptProofs {
		s.Proofs = s.Proofs[:keptProofs]
	}
}

func (s *cardState) check() error {
	if s.Version < 1 || s.Version > stateVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrStateFile, s.Version, stateVersion)
	}
	if s.Public != nil && len(s.Public) != epurse.PublicDataLen {
		return fmt.Errorf("%w: file 0x15 of %d bytes, want %d", ErrStateFile, len(s.Public), epurse.PublicDataLen)
	}
	if s.Campus != nil && len(s.Campus) != epurse.CampusDataLen {
		return fmt.Errorf("%w: file 0x12 of %d bytes, want %d", ErrStateFile, len(s.Campus), epurse.CampusDataLen)
	}
	if s.Blocked > blockPermanent {
		return fmt.Errorf("%w: block state %d", ErrStateFile, s.Blocked)
	}
	for _, k := range [][]byte{s.Keys.DAMK, s.Keys.DABK, s.Keys.DAUK, s.Keys.DRPK} {
		if k != nil && len(k) != 16 {
			return fmt.Errorf("%w: write key of %d bytes", ErrStateFile, len(k))
		}
	}
	if s.Version == 1 && (s.SystemPIN != "" || s.SystemPINTries != 0) {
		return fmt.Errorf("%w: version 1 with a system PIN", ErrStateFile)
	}
	if s.SystemPIN != "" && (len(s.SystemPIN) != epurse.SystemPINDigits || !digits(s.SystemPIN)) {
		return fmt.Errorf("%w: system PIN: want %d digits", ErrStateFile, epurse.SystemPINDigits)
	}
	if s.SystemPINTries < 0 || s.SystemPINTries > maxSystemPINTries || (s.SystemPIN == "" && s.SystemPINTries != 0) {
		return fmt.Errorf("%w: system pin tries %d", ErrStateFile, s.SystemPINTries)
	}
	for _, k := range [][]byte{s.Keys.DPK, s.Keys.DLK, s.Keys.DTK} {
		if len(k) != 16 {
			return fmt.Errorf("%w: card key of %d bytes", ErrStateFile, len(k))
		}
	}
	if s.PINTries < 0 || s.PINTries > maxPINTries {
		return fmt.Errorf("%w: pin tries %d", ErrStateFile, s.PINTries)
	}
	if len(s.Log) > logRecords {
		return fmt.Errorf("%w: %d log records, the log holds %d", ErrStateFile, len(s.Log), logRecords)
	}
	return s.Profile.validate()
}

// LoadCard reads a card saved with Save and attaches it to path: every
// later state change is written there before the card answers.
func LoadCard(path string) (*Card, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: load card: %w", err)
	}
	var st cardState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStateFile, path, err)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("sim: load card %s: %w", path, err)
	}
	// A file written when the virtual card kept more proofs: only the
	// newest (the last transaction's) survives, as on a real card.
	if len(st.Proofs) > keptProofs {
		st.Proofs = st.Proofs[:keptProofs]
	}
	st.issueFiles()
	st.Version = stateVersion // written as the current version from now on
	c := newCard(&st)
	c.path = path
	return c, nil
}

// Save writes the card's persistent state to path atomically and attaches
// the card to it: from now on every change the real card would write to
// EEPROM (balance, counters, PIN tries, log, proofs) is written to path
// (temp file, fsync, rename) before the card's response leaves it.
func (c *Card) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := saveState(path, c.st); err != nil {
		return err
	}
	c.path = path
	return nil
}

func saveState(path string, st *cardState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("sim: save card: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("sim: save card: %w", err)
	}
	return nil
}
