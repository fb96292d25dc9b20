// Package sqlite puts the sale's store work on SQLite beside the product's
// bbolt store (package offline), so that the choice of bbolt is defended by
// a ratio measured in one run (issue 13, part 2).
//
// The work of one sale is two committed transactions:
//
//  1. the durable intent, before the card is debited: a purchase-intent
//     record appended to the hash-chained journal and the intent stored;
//  2. the completion: a purchase-completed record appended and the intent
//     removed.
//
// On bbolt the work is the product's own code, offline.Store.OpenIntent and
// CompleteIntent (see Bolt). On SQLite it is Store: WAL mode with
// synchronous=FULL, a journal table and an intents table, prepared
// statements, each step in its own BEGIN IMMEDIATE … COMMIT, and the same
// protocol.Record bytes the product writes. The driver is
// github.com/mattn/go-sqlite3, the C SQLite a competitor would ship.
//
// This is a nested module: the product's go.mod gains no dependency, and
// the product's `go test ./...` does not descend here. `make bench-sqlite`
// runs the benchmark, counts the fsyncs with strace and prints the table;
// README.md has the figures.
package sqlite
