package sqlite

import (
	"fmt"

	"github.com/openykt/yktd/offline"
)

// Engine is the store work of a sale as the benchmark drives it, the same
// calls on each engine.
type Engine interface {
	// OpenIntent makes the intent durable (before DEBIT) and returns its id.
	OpenIntent(p offline.PurchaseIntent) (uint64, error)
	// CompleteIntent journals the completion and removes the intent.
	CompleteIntent(id uint64, c offline.Completion) (uint64, error)
	// Check verifies the journal's chain and counts the records and the
	// intents still open.
	Check() (records, intents uint64, err error)
	Close() error
}

var (
	_ Engine = (*Store)(nil)
	_ Engine = Bolt{}
)

// Bolt is the product's bbolt store, offline.Store, as an Engine: its
// OpenIntent and CompleteIntent are the product's own code.
type Bolt struct{ *offline.Store }

// OpenBolt opens or creates the product's store at path with opts.
func OpenBolt(path string, opts offline.Options) (Bolt, error) {
	s, err := offline.Open(path, opts)
	if err != nil {
		return Bolt{}, fmt.Errorf("sqlite: bbolt side: %w", err)
	}
	return Bolt{s}, nil
}

// OpenIntent calls offline.Store.OpenIntent and returns the intent's id.
func (b Bolt) OpenIntent(p offline.PurchaseIntent) (uint64, error) {
	in, err := b.Store.OpenIntent(p)
	return in.ID, err
}

// Check runs offline.Store.Verify and counts the open intents.
func (b Bolt) Check() (records, intents uint64, err error) {
	res, err := b.Verify()
	if err != nil {
		return 0, 0, err
	}
	ins, err := b.Intents()
	if err != nil {
		return 0, 0, err
	}
	return res.Count, uint64(len(ins)), nil
}
