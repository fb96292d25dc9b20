package sqlite

import "fmt"

// HoldWriteTx begins one of the store's transactions and keeps it open
// until release is called: what a second writer sees meanwhile tells
// whether Begin took the write lock at once (BEGIN IMMEDIATE).
func (s *Store) HoldWriteTx() (release func(), err error) {
	tx, err := s.db.Begin()
	if err != nil {
		return nil, fmt.Errorf("sqlite: hold write tx: %w", err)
	}
	return func() { tx.Rollback() }, nil
}
