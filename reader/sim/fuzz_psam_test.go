package sim_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// psamScript is a valid session on the demo PSAM: SELECT MF, READ BINARY
// 16, SELECT DF03, DIVERSIFY KEY and ENCRYPT of the student card's system
// PIN (3DES and SM4), INIT SAM FOR PURCHASE, CREDIT SAM FOR PURCHASE.
func psamScript() [][]byte {
	f := []byte{0x20, 0x26, 0x09, 0x01, 0x00, 0x00, 0x00, 0x01}
	x16, _ := epurse.SystemPINInput(epurse.AlgSM4, [8]byte(f))
	req := epurse.SAMPurchaseRequest{Random: [4]byte{1, 2, 3, 4}, Amount: 100, Type: epurse.TxPurchase, Time: testTime, KeyVersion: 1, CardSerial: [8]byte(f)}
	return [][]byte{
		{0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00},
		{0x00, 0xB0, 0x96, 0x00, 0x06},
		append([]byte{0x00, 0xA4, 0x00, 0x00, 0x02}, sam.DefaultApp...),
		append([]byte{0x80, 0x1A, 0x3A, 0x01, 0x08}, f...),
		append(append([]byte{0x80, 0xFA, 0x00, 0x00, 0x08}, f...), 0x08),
		append([]byte{0x80, 0x1A, 0x3A, 0x01, 0x10}, x16...),
		append(append([]byte{0x80, 0xFA, 0x00, 0x00, 0x10}, x16...), 0x10),
		append(append([]byte{0x80, 0x70, 0x00, 0x00, 0x1C}, req.Bytes()...), 0x08),
		{0x80, 0x72, 0x00, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04},
	}
}

// FuzzPSAMRespond runs APDU sequences against a fresh virtual PSAM: it
// never panics and always answers a status word; ENCRYPT answers 9000 only
// after a 9000 to DIVERSIFY KEY with no SELECT in between, with exactly
// the encryption under the system-PIN key of that factor; CREDIT SAM FOR
// PURCHASE answers 9000 only after INIT SAM FOR PURCHASE with no DIVERSIFY
// KEY or SELECT in between.
func FuzzPSAMRespond(f *testing.F) {
	f.Add(script(psamScript()...))
	f.Fuzz(func(t *testing.T, in []byte) {
		p := sim.NewDemoPSAM()
		mk := sam.TestKeys().Keys[1].SystemPIN
		var key []byte // the harness's temporary key
		var alg epurse.Algorithm
		session := false
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			cmd := in[1 : 1+n]
			in = in[1+n:]
			resp, err := p.Respond(cmd)
			if err != nil || len(resp) < 2 {
				t.Fatalf("%X: %X %v", cmd, resp, err)
			}
			ok := bytes.HasSuffix(resp, []byte{0x90, 0x00})
			data := resp[:len(resp)-2]
			if len(cmd) < 2 || !wellFormed(cmd) {
				continue // 6700 before the command runs: no state changes
			}
			switch {
			case cmd[1] == 0xA4 && ok:
				key, session = nil, false
			case cmd[0] == 0x80 && cmd[1] == sam.InsDiversifyKey:
				key, session = nil, false
				if ok {
					body := cmd[5 : 5+int(cmd[4])]
					alg = epurse.AlgDES
					if len(body) == 16 {
						alg = epurse.AlgSM4
					}
					key, err = epurse.DiversifyKey(alg, mk, [8]byte(body[:8]))
					if err != nil || cmd[2] != sam.KeyUsageSystemPIN || cmd[3] != 1 {
						t.Fatalf("DIVERSIFY KEY %X accepted (%v)", cmd, err)
					}
				}
			case cmd[0] == 0x80 && cmd[1] == sam.InsEncrypt && ok:
				if key == nil {
					t.Fatalf("ENCRYPT %X answered without a temporary key", cmd)
				}
				want, err := epurse.EncryptECB(alg, key, cmd[5:5+int(cmd[4])])
				if err != nil || !bytes.Equal(data, want) {
					t.Fatalf("ENCRYPT %X gave %X, want %X (%v)", cmd, data, want, err)
				}
			case cmd[0] == 0x80 && cmd[1] == sam.InsInitSAMForPurchase:
				session = ok
			case cmd[0] == 0x80 && cmd[1] == sam.InsCreditSAMForPurchase:
				if ok && !session {
					t.Fatalf("CREDIT SAM FOR PURCHASE %X answered 9000 without a session", cmd)
				}
				session = false
			}
		}
	})
}

// TestPSAMFuzzSeeds checks the valid session works (so the properties are
// exercised) and writes the seed corpus with -update-seeds.
func TestPSAMFuzzSeeds(t *testing.T) {
	p := sim.NewDemoPSAM()
	apdus := psamScript()
	for i, a := range apdus[:7] {
		resp, err := p.Respond(a)
		if err != nil || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
			t.Fatalf("seed APDU %d %X: %X %v", i, a, resp, err)
		}
	}
	if !*updateSeeds {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzPSAMRespond")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"valid-session":                script(apdus...),
		"encrypt-without-diversify":    script(apdus[2], apdus[4]),
		"diversify-select-encrypt":     script(apdus[2], apdus[3], apdus[2], apdus[4]),
		"diversify-ends-purchase":      script(apdus[2], apdus[7], apdus[3], apdus[8]),
		"diversify-bad-usage-and-size": script(apdus[2], []byte{0x80, 0x1A, 0x28, 0x01, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}, []byte{0x80, 0x1A, 0x3A, 0x01, 0x03, 1, 2, 3}, apdus[4]),
		"encrypt-odd-length":           script(apdus[2], apdus[3], []byte{0x80, 0xFA, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5}),
	}
	for name, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wellFormed reports whether a command APDU parses (header, then nothing,
// Le, or Lc > 0 with its data and an optional Le): the PSAM answers any
// other with 6700 before it executes anything, so the harness's model of
// its state must not change either.
func wellFormed(cmd []byte) bool {
	switch rest := cmd[min(4, len(cmd)):]; {
	case len(cmd) < 4:
		return false
	case len(rest) <= 1:
		return true
	default:
		lc := int(rest[0])
		return lc > 0 && (len(rest) == 1+lc || len(rest) == 2+lc)
	}
}
