package protocol

import "bytes"

// Bounds of a Batch.
const (
	// MaxBatchRecords bounds the records of one batch.
	MaxBatchRecords = 1000
	// MaxBatchSize bounds an encoded Batch (1 MiB): a sender cuts its
	// batches so that both bounds hold.
	MaxBatchSize = 1 << 20
)

// Batch carries a contiguous run of a device's journal records, FirstSeq
// through LastSeq, each the exact canonical bytes the device hashed into its
// chain. PrevHead is the hash of record FirstSeq-1 (EpochGenesis(DeviceID,
// Epoch) when FirstSeq is 1), NewHead the hash of record LastSeq. BatchNo is
// the sender's counter, echoed in the Ack; the ledger decides on epochs,
// sequences and hashes only. Epoch is the journal's epoch (0, omitted, for
// a device's first store; see EpochGenesis): sequences count from 1 in
// each epoch.
type Batch struct {
	DeviceID string   `cbor:"1,keyasint" json:"device_id"`
	BatchNo  uint64   `cbor:"2,keyasint" json:"batch_no"`
	FirstSeq uint64   `cbor:"3,keyasint" json:"first_seq"`
	LastSeq  uint64   `cbor:"4,keyasint" json:"last_seq"`
	PrevHead []byte   `cbor:"5,keyasint" json:"prev_head"`
	NewHead  []byte   `cbor:"6,keyasint" json:"new_head"`
	Records  [][]byte `cbor:"7,keyasint" json:"records"`
	Epoch    uint64   `cbor:"8,keyasint,omitempty" json:"epoch,omitempty"`
}

// NewBatch builds the batch of records (encoded journal records in sequence
// order) that follow the record whose hash is prevHead, and checks it.
func NewBatch(deviceID string, batchNo uint64, prevHead [HashSize]byte, records [][]byte) (Batch, error) {
	b := Batch{DeviceID: deviceID, BatchNo: batchNo, PrevHead: prevHead[:], Records: records}
	if len(records) > 0 {
		first, err := DecodeRecord(records[0])
		if err != nil {
			return Batch{}, Errorf(CodeMalformed, "batch: record 0: %w", err)
		}
		b.FirstSeq = first.Seq
		b.LastSeq = first.Seq + uint64(len(records)) - 1
		h := RecordHash(records[len(records)-1])
		b.NewHead = h[:]
	}
	if _, err := b.Check(); err != nil {
		return Batch{}, err
	}
	return b, nil
}

// ContentType returns TypeBatch.
func (*Batch) ContentType() string { return TypeBatch }

// Check validates the batch and returns its records decoded: a valid device
// id, 1 to MaxBatchRecords records, LastSeq-FirstSeq+1 of them, each a
// valid canonical record (DecodeRecord) with sequences FirstSeq..LastSeq in
// order, the first linking to PrevHead, each next one to the hash of the one
// before, and NewHead the hash of the last. A broken link is ErrChainBroken;
// anything else ErrMalformed (a bad record also matches ErrInvalidRecord or
// ErrNonCanonical).
func (m *Batch) Check() ([]Record, error) {
	const w = "batch"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return nil, err
	}
	if err := checkLen(w, "prev head", m.PrevHead, HashSize); err != nil {
		return nil, err
	}
	if err := checkLen(w, "new head", m.NewHead, HashSize); err != nil {
		return nil, err
	}
	n := len(m.Records)
	switch {
	case n == 0:
		return nil, Errorf(CodeMalformed, "%s: no records", w)
	case n > MaxBatchRecords:
		return nil, Errorf(CodeTooLarge, "%s: %d records, at most %d", w, n, MaxBatchRecords)
	case m.FirstSeq == 0 || m.LastSeq < m.FirstSeq:
		return nil, Errorf(CodeMalformed, "%s: sequences %d..%d", w, m.FirstSeq, m.LastSeq)
	case m.LastSeq-m.FirstSeq != uint64(n-1):
		return nil, Errorf(CodeMalformed, "%s: %d records for sequences %d..%d", w, n, m.FirstSeq, m.LastSeq)
	}
	out := make([]Record, n)
	prev := m.PrevHead
	var h [HashSize]byte
	for i, raw := range m.Records {
		r, err := DecodeRecord(raw)
		if err != nil {
			return nil, Errorf(CodeMalformed, "%s: record %d: %w", w, i, err)
		}
		if want := m.FirstSeq + uint64(i); r.Seq != want {
			return nil, Errorf(CodeMalformed, "%s: record %d has sequence %d, want %d", w, i, r.Seq, want)
		}
		if !bytes.Equal(r.Prev, prev) {
			return nil, Errorf(CodeChainBroken, "%s: record %d does not link to the one before", w, r.Seq)
		}
		h = RecordHash(raw)
		prev = h[:]
		out[i] = r
	}
	if !bytes.Equal(m.NewHead, h[:]) {
		return nil, Errorf(CodeChainBroken, "%s: new head is not the hash of record %d", w, m.LastSeq)
	}
	return out, nil
}

// Encode checks m and returns its canonical encoding.
func (m *Batch) Encode() ([]byte, error) {
	if _, err := m.Check(); err != nil {
		return nil, err
	}
	return encode("batch", m, MaxBatchSize)
}

func (m *Batch) decode(b []byte) error {
	*m = Batch{}
	if err := decodeStrict("batch", b, m, batchDec, MaxBatchSize); err != nil {
		return err
	}
	_, err := m.Check()
	return err
}

func (m *Batch) deviceID() string { return m.DeviceID }

// DecodeBatch decodes a Batch strictly and checks it (see Check).
func DecodeBatch(b []byte) (Batch, error) {
	var m Batch
	if err := m.decode(b); err != nil {
		return Batch{}, err
	}
	return m, nil
}

// MaxAckSize bounds an encoded Ack.
const MaxAckSize = 256

// Ack is the ledger's acknowledgement of a batch: it holds every record of
// DeviceID's journal epoch Epoch through AckedThrough, whose hash is Head.
// A duplicate batch gets the same Ack again (ServerTime may differ).
type Ack struct {
	DeviceID     string `cbor:"1,keyasint" json:"device_id"`
	BatchNo      uint64 `cbor:"2,keyasint" json:"batch_no"`
	AckedThrough uint64 `cbor:"3,keyasint" json:"acked_through"`
	Head         []byte `cbor:"4,keyasint" json:"head"`
	ServerTime   int64  `cbor:"5,keyasint" json:"server_time"`               // Unix milliseconds
	Epoch        uint64 `cbor:"6,keyasint,omitempty" json:"epoch,omitempty"` // the batch's epoch, echoed
	// Held is why the ledger holds the device as it answers
	// (CodePSAMBinding: a record carried a PSAM terminal id not bound to
	// it, or its PSAM is bound to another device), 0 when it does not. A
	// held device takes no money until an operator re-binds it; its
	// journal is still taken. Not part of the exactly-once answer: a
	// duplicate batch's Ack says the hold as it is now. A code this
	// version does not know is kept (still a hold).
	Held Code `cbor:"7,keyasint,omitempty" json:"held,omitempty"`
}

// ContentType returns TypeAck.
func (*Ack) ContentType() string { return TypeAck }

// Validate checks the fields' formats.
func (m *Ack) Validate() error {
	const w = "ack"
	if err := checkDevice(w, m.DeviceID); err != nil {
		return err
	}
	if m.AckedThrough == 0 {
		return Errorf(CodeMalformed, "%s: acked through 0", w)
	}
	if m.ServerTime <= 0 {
		return Errorf(CodeMalformed, "%s: server time %d", w, m.ServerTime)
	}
	return checkLen(w, "head", m.Head, HashSize)
}

// Encode validates m and returns its canonical encoding.
func (m *Ack) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("ack", m, MaxAckSize)
}

func (m *Ack) decode(b []byte) error {
	*m = Ack{}
	if err := decodeStrict("ack", b, m, smallDec, MaxAckSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *Ack) deviceID() string { return m.DeviceID }

// DecodeAck decodes an Ack strictly.
func DecodeAck(b []byte) (Ack, error) {
	var m Ack
	err := m.decode(b)
	return m, err
}

// HeadHash returns Head as an array (zero if it is not HashSize bytes).
func (m *Ack) HeadHash() (h [HashSize]byte) {
	if len(m.Head) == HashSize {
		copy(h[:], m.Head)
	}
	return h
}
