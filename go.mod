module github.com/openykt/yktd

go 1.26.0

tool honnef.co/go/tools/cmd/staticcheck

require (
	github.com/ebfe/scard v0.0.0-20241214075232-7af069cabc25
	github.com/emmansun/gmsm v0.15.5
	github.com/fxamacker/cbor/v2 v2.10.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/BurntSushi/toml v1.4.1-0.20240526193622-a339e1f7089c // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/exp/typeparams v0.0.0-20231108232855-2478ac86f678 // indirect
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
	honnef.co/go/tools v0.8.2 // indirect
)
