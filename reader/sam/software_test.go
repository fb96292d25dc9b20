package sam

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/reader/epurse"
)

var testSerial = [8]byte{0x20, 0x26, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01}

func testRequest() epurse.SAMPurchaseRequest {
	return epurse.SAMPurchaseRequest{
		Random: [4]byte{1, 2, 3, 4}, OfflineCounter: 7, Amount: 1250, Type: epurse.TxPurchase,
		Time: epurse.NewDateTime(time.Date(2026, 9, 1, 12, 30, 0, 0, time.UTC)), KeyVersion: 1,
		Algorithm: epurse.AlgDES, CardSerial: testSerial,
	}
}

// cardSide computes what the card computes for req and termSeq: MAC1 it
// expects and the MAC2 it returns.
func cardSide(t *testing.T, req epurse.SAMPurchaseRequest, termSeq uint32) (mac1, mac2 [4]byte) {
	t.Helper()
	ck, err := TestKeys().Keys[req.KeyVersion].ForCard(req.Algorithm, req.CardSerial)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := epurse.PurchaseSessionKey(req.Algorithm, ck.DPK, req.Random, req.OfflineCounter, termSeq)
	if err != nil {
		t.Fatal(err)
	}
	if mac1, err = epurse.PurchaseMAC1(req.Algorithm, sk, req.Amount, TestKeys().TerminalID, req.Time); err != nil {
		t.Fatal(err)
	}
	if mac2, err = epurse.PurchaseMAC2(req.Algorithm, sk, req.Amount); err != nil {
		t.Fatal(err)
	}
	return mac1, mac2
}

func TestSoftwarePurchase(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			s, err := NewSoftware(TestKeys())
			if err != nil {
				t.Fatal(err)
			}
			req := testRequest()
			req.Algorithm = alg
			seq, mac1, err := s.InitPurchase(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if seq != 1 {
				t.Errorf("first sequence %d, want 1", seq)
			}
			want1, mac2 := cardSide(t, req, seq)
			if mac1 != want1 {
				t.Fatalf("MAC1 %X, card expects %X", mac1, want1)
			}
			if err := s.VerifyMAC2(ctx, mac2); err != nil {
				t.Fatalf("VerifyMAC2: %v", err)
			}
			// The session is closed: a second verify has nothing to check.
			if err := s.VerifyMAC2(ctx, mac2); !errors.Is(err, ErrNoSession) {
				t.Fatalf("second VerifyMAC2: %v", err)
			}
			// A wrong MAC2 is ErrMAC2 and epurse.ErrMACInvalid.
			seq, _, err = s.InitPurchase(ctx, req)
			if err != nil || seq != 2 {
				t.Fatalf("seq %d err %v", seq, err)
			}
			mac2[0] ^= 1
			if err := s.VerifyMAC2(ctx, mac2); !errors.Is(err, ErrMAC2) || !errors.Is(err, epurse.ErrMACInvalid) {
				t.Fatalf("wrong MAC2: %v", err)
			}
		})
	}
}

func TestSoftwareRefuses(t *testing.T) {
	ctx := context.Background()
	s, err := NewSoftware(TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	req := testRequest()
	req.KeyVersion = 9
	if _, _, err := s.InitPurchase(ctx, req); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Errorf("key version 9: %v", err)
	}
	req = testRequest()
	req.Type = epurse.TxLoad
	if _, _, err := s.InitPurchase(ctx, req); !errors.Is(err, epurse.ErrBadRequest) {
		t.Errorf("type 02: %v", err)
	}
	req = testRequest()
	req.Algorithm = 0x77
	if _, _, err := s.InitPurchase(ctx, req); !errors.Is(err, epurse.ErrUnsupportedAlgorithm) {
		t.Errorf("algorithm 77: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.InitPurchase(cctx, testRequest()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if s.Sequence() != 0 {
		t.Errorf("refused requests used sequence numbers: %d", s.Sequence())
	}
}

// The terminal sequence survives a restart and never repeats.
func TestSoftwareSequencePersists(t *testing.T) {
	ctx := context.Background()
	p := copyKeys(t, TestKeyFile, 0o600)
	s, err := OpenSoftware(p)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := s.InitPurchase(ctx, testRequest()); err != nil {
			t.Fatal(err)
		}
	}
	seqFile := filepath.Join(filepath.Dir(p), "keys-test.seq")
	if st, err := os.Stat(seqFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sequence file: %v %v", st, err)
	}
	s2, err := OpenSoftware(p) // the "restarted" process
	if err != nil {
		t.Fatal(err)
	}
	seq, _, err := s2.InitPurchase(ctx, testRequest())
	if err != nil || seq != 4 {
		t.Fatalf("after restart seq %d, want 4 (err %v)", seq, err)
	}
	// A corrupt sequence file is an error, not a restart at 1.
	if err := os.WriteFile(seqFile, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSoftware(p); err == nil {
		t.Fatal("corrupt sequence file accepted")
	}
	// Exhaustion is refused.
	if err := os.WriteFile(seqFile, []byte("4294967295\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := OpenSoftware(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s3.InitPurchase(ctx, testRequest()); !errors.Is(err, ErrSequenceExhausted) {
		t.Fatalf("exhausted: %v", err)
	}
}

func TestSoftwareConcurrent(t *testing.T) {
	s, err := NewSoftware(TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	seen := make(chan uint32, 64)
	for range 8 {
		wg.Go(func() {
			for range 8 {
				seq, _, err := s.InitPurchase(context.Background(), testRequest())
				if err != nil {
					t.Error(err)
				}
				seen <- seq
				_ = s.VerifyMAC2(context.Background(), [4]byte{})
			}
		})
	}
	wg.Wait()
	close(seen)
	got := map[uint32]bool{}
	for n := range seen {
		if got[n] {
			t.Fatalf("sequence %d handed out twice", n)
		}
		got[n] = true
	}
}
