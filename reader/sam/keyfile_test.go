package sam

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// copyKeys writes the test key file into a temporary directory with mode
// perm and returns its path.
func copyKeys(t *testing.T, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTestKeyFileParses(t *testing.T) {
	kf := TestKeys()
	if len(kf.Keys) != 1 || kf.TerminalID != [6]byte{0, 0, 0, 0, 0, 0xF1} {
		t.Fatalf("test keys: %+v", kf)
	}
	if !strings.Contains(kf.Comment, "TEST KEYS ONLY") {
		t.Errorf("test key file not labelled: %q", kf.Comment)
	}
}

func TestReadKeyFileMode(t *testing.T) {
	for _, tc := range []struct {
		perm os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o644, false}, {0o640, false}, {0o604, false}, {0o620, false}} {
		p := copyKeys(t, TestKeyFile, tc.perm)
		kf, err := ReadKeyFile(p)
		if tc.ok {
			if err != nil {
				t.Errorf("mode %04o: %v", tc.perm, err)
			} else if kf.SequenceFile != filepath.Join(filepath.Dir(p), "keys-test.seq") {
				t.Errorf("sequence file %q", kf.SequenceFile)
			}
			continue
		}
		if !errors.Is(err, ErrKeyFileMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err %v, want ErrKeyFileMode with advice", tc.perm, err)
		}
	}
}

func TestParseKeyFileErrors(t *testing.T) {
	good := string(TestKeyFile)
	for _, tc := range []struct{ name, in, want string }{
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"empty", "", "EOF"},
		{"garbled", strings.Replace(good, "{", "[", 1), "invalid character"},
		{"trailing", good + "{}", "trailing data"},
		{"unknown field", strings.Replace(good, `"tac"`, `"tak"`, 1), "unknown field"},
		{"short key", strings.Replace(good, "825AD15F", "825A", 1), "keys[0].purchase: 14 bytes"},
		{"bad hex", strings.Replace(good, "825AD15F", "825AD15G", 1), "keys[0].purchase"},
		{"terminal id", strings.Replace(good, "0000000000F1", "00F1", 1), "terminal_id: 2 bytes"},
		{"no keys", `{"terminal_id":"0000000000F1","keys":[]}`, "no key sets"},
		{"no version", `{"terminal_id":"0000000000F1","keys":[{"purchase":"00"}]}`, "version"},
		{"dup version", strings.Replace(good, "]", ","+good[strings.Index(good, "{\n      \"version\""):strings.LastIndex(good, "}\n  ]")+1]+"]", 1), "given twice"},
		{"huge", strings.Repeat(" ", maxKeyFile+1), "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyFile([]byte(tc.in))
			if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrKeyFile containing %q", err, tc.want)
			}
			// The same refusal through the file, with the path in the message.
			p := copyKeys(t, []byte(tc.in), 0o600)
			if _, err := ReadKeyFile(p); !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), p) {
				t.Fatalf("ReadKeyFile: %v", err)
			}
		})
	}
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add(TestKeyFile)
	f.Add([]byte(`{"terminal_id":"0000000000F1","keys":[{"version":2,"purchase":"00112233445566778899AABBCCDDEEFF","load":"00112233445566778899AABBCCDDEEFF","tac":"00112233445566778899AABBCCDDEEFF"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kf, err := ParseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("error not ErrKeyFile: %v", err)
			}
			return
		}
		if len(kf.Keys) == 0 {
			t.Fatal("accepted a key file without keys")
		}
		for v, k := range kf.Keys {
			if len(k.Purchase) != 16 || len(k.Load) != 16 || len(k.TAC) != 16 || (k.SystemPIN != nil && len(k.SystemPIN) != 16) {
				t.Fatalf("key version %d: wrong key lengths", v)
			}
		}
	})
}

// TestTestKeyFileFor: each rig device's software SAM has its own terminal
// id, in the file provision writes and in the parsed keys alike, and
// nothing else of the test keys changes.
func TestTestKeyFileFor(t *testing.T) {
	a, b := TestTerminalIDFor("RIG-CANTEEN"), TestTerminalIDFor("RIG-KIOSK")
	if a == b || a == TestKeys().TerminalID {
		t.Fatalf("terminal ids not distinct: %x %x (default %x)", a, b, TestKeys().TerminalID)
	}
	kf, err := ParseKeyFile(TestKeyFileFor("RIG-CANTEEN"))
	if err != nil {
		t.Fatal(err)
	}
	if kf.TerminalID != a {
		t.Fatalf("file's terminal id %x, want %x", kf.TerminalID, a)
	}
	want := TestKeysFor("RIG-CANTEEN")
	kf.SequenceFile = ""
	if !reflect.DeepEqual(kf, want) {
		t.Fatalf("keys differ beyond the terminal id:\n%+v\n%+v", kf, want)
	}
}
