module github.com/openykt/yktd/bench/sqlite

go 1.26.0

replace github.com/openykt/yktd => ../..

require (
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/openykt/yktd v0.0.0-00010101000000-000000000000
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/veraison/go-cose v1.3.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
