package protocol

import "testing"

// BenchmarkSealOpenBatch500 signs a 500-record batch on the device side
// and verifies and decodes it on the ledger side (Seal + OpenFromDevice).
func BenchmarkSealOpenBatch500(b *testing.B) {
	const n = 500
	dev := testSigner(b, testDevice, 1)
	keys := NewKeys(dev.PublicKey())
	recs := testRecords(b, testDevice, n)
	batch, err := NewBatch(testDevice, 1, GenesisHash(testDevice), recs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		msg, err := Seal(dev, &batch, testDevice)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := OpenFromDevice[Batch](keys, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
