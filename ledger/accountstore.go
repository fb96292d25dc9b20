package ledger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	bolt "go.etcd.io/bbolt"
)

// Buckets of the accounts (schema 3).
var (
	bucketAccounts  = []byte("accounts")  // account id → JSON accounts.Account
	bucketCardAcct  = []byte("cardacct")  // card no → account id (current and replaced cards)
	bucketAcctLog   = []byte("acctlog")   // account id ‖ 0 ‖ be64 seq → JSON accounts.Entry
	bucketTransfers = []byte("transfers") // device ‖ 0 ‖ request id → JSON transfer
	bucketSimBank   = []byte("simbank")   // bank account → JSON simulated bank account (bank.Simulated)
)

var keyAcctLogSeq = []byte("acctlogseq")

// Errors of the holder's PIN at the ledger.
var (
	// ErrPINInvalid: the holder's PIN does not match the account's
	// verification value (or the account has none).
	ErrPINInvalid = errors.New("ledger: holder PIN invalid")
	// ErrPINLocked: too many wrong PINs in a row (accounts.MaxPINTries):
	// an operator must set a new PIN.
	ErrPINLocked = errors.New("ledger: holder PIN locked")
	// ErrNoAccount: the card belongs to no account.
	ErrNoAccount = errors.New("ledger: no account for the card")
)

func getAccount(tx *bolt.Tx, id string) (accounts.Account, error) {
	var a accounts.Account
	if err := getJSON(tx.Bucket(bucketAccounts), []byte(id), &a); err != nil {
		return accounts.Account{}, fmt.Errorf("ledger: account %q: %w", id, err)
	}
	return a, nil
}

func putAccount(tx *bolt.Tx, a *accounts.Account, now time.Time) error {
	a.Updated = now.UTC()
	return putJSON(tx.Bucket(bucketAccounts), []byte(a.ID), a)
}

// accountOfCard returns the account card belongs to (ok false: none).
func accountOfCard(tx *bolt.Tx, card string) (accounts.Account, bool, error) {
	id := tx.Bucket(bucketCardAcct).Get([]byte(card))
	if id == nil {
		return accounts.Account{}, false, nil
	}
	a, err := getAccount(tx, string(id))
	if err != nil {
		return accounts.Account{}, false, fmt.Errorf("ledger: card %s: %w: %w", card, ErrCorrupt, err)
	}
	return a, true, nil
}

// addEntry journals a movement of a's money (a already changed).
func addEntry(tx *bolt.Tx, a *accounts.Account, kind string, amount int64, ref string, now time.Time) error {
	n, err := nextSeq(tx, keyAcctLogSeq)
	if err != nil {
		return err
	}
	e := accounts.Entry{Seq: n, Account: a.ID, Time: now.UTC(), Kind: kind, Amount: amount, Balance: a.Balance, Loadable: a.Loadable, Ref: ref}
	k := binary.BigEndian.AppendUint64(append([]byte(a.ID), 0), n)
	return putJSON(tx.Bucket(bucketAcctLog), k, e)
}

// creditTx credits a card's account with amount marked for loading (a
// top-up, a transfer, a reversal, an old card's balance).
func creditTx(tx *bolt.Tx, a *accounts.Account, kind string, amount int64, ref string, now time.Time) error {
	if amount <= 0 || amount > 0xFFFFFFFF {
		return fmt.Errorf("ledger: credit account %s: amount %d: %w", a.ID, amount, ErrInvalid)
	}
	a.Credit(amount, kind != accounts.EntryRepay)
	if kind == accounts.EntryRepay && a.State == accounts.OverdrawnFrozen && a.Balance >= 0 {
		a.State = accounts.Normal // frozen until repaid: repaid
	}
	if err := putAccount(tx, a, now); err != nil {
		return err
	}
	return addEntry(tx, a, kind, amount, ref, now)
}

func accountEntries(tx *bolt.Tx, id string) ([]accounts.Entry, error) {
	var out []accounts.Entry
	prefix := append([]byte(id), 0)
	c := tx.Bucket(bucketAcctLog).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var e accounts.Entry
		if err := getJSONBytes(v, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// setPIN stores a new verification value of pin in a.
func (l *Ledger) setPIN(a *accounts.Account, pin string) error {
	if !accounts.ValidPIN([]byte(pin)) {
		return fmt.Errorf("ledger: account %s: PIN: want 4 to 12 digits: %w", a.ID, ErrInvalid)
	}
	salt := make([]byte, accounts.SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("ledger: account %s: salt: %w", a.ID, err)
	}
	v, err := l.holder.PINVerificationValue(context.Background(), a.ID, salt, []byte(pin))
	if err != nil {
		return fmt.Errorf("ledger: account %s: PIN: %w", a.ID, err)
	}
	a.PVV, a.PINTries = append(salt, v...), 0
	return nil
}

// setNationalID stores the keyed digest of id in a.
func (l *Ledger) setNationalID(a *accounts.Account, id string) error {
	if id == "" {
		a.IDDigest = nil
		return nil
	}
	if len(id) > 64 {
		return fmt.Errorf("ledger: account %s: ID number too long: %w", a.ID, ErrInvalid)
	}
	d, err := l.holder.IDDigest(context.Background(), id)
	if err != nil {
		return fmt.Errorf("ledger: account %s: ID digest: %w", a.ID, err)
	}
	a.IDDigest = d
	return nil
}

// checkPINTx checks pin against a's verification value, counting a wrong
// one in a (the caller commits it even when refusing: tries must stick).
func (l *Ledger) checkPINTx(a *accounts.Account, pin []byte) error {
	if a.PINTries >= accounts.MaxPINTries {
		return fmt.Errorf("ledger: account %s: %d wrong PINs: %w", a.ID, a.PINTries, ErrPINLocked)
	}
	if len(a.PVV) != accounts.SaltSize+32 || !accounts.ValidPIN(pin) {
		a.PINTries++
		return fmt.Errorf("ledger: account %s: %w", a.ID, ErrPINInvalid)
	}
	v, err := l.holder.PINVerificationValue(context.Background(), a.ID, a.PVV[:accounts.SaltSize], pin)
	if err != nil {
		return fmt.Errorf("ledger: account %s: PIN check: %w", a.ID, err)
	}
	if !hmac.Equal(v, a.PVV[accounts.SaltSize:]) {
		a.PINTries++
		if a.PINTries >= accounts.MaxPINTries {
			return fmt.Errorf("ledger: account %s: wrong PIN, now locked: %w", a.ID, ErrPINLocked)
		}
		return fmt.Errorf("ledger: account %s: wrong PIN, %d tries left: %w", a.ID, accounts.MaxPINTries-a.PINTries, ErrPINInvalid)
	}
	a.PINTries = 0
	return nil
}
