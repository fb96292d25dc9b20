// Package synce2e holds the end-to-end tests of the sync path: a real
// offline store and protocol/syncclient against a real in-process ledger
// (ledger.Open + ledger.NewServer) over loopback HTTP, with faults injected
// between them, and the sync throughput benchmark (BenchmarkSyncBacklog).
// It has no non-test code.
package synce2e
