package load

import (
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/ui"
)

// TestRefusalCodes: every refusal code of the protocol maps to a screen
// with both texts; the account's reasons (16-29) each have their own
// screen, never the generic ledger_refused; the protocol's own refusals
// (signature, format) are ledger_refused.
func TestRefusalCodes(t *testing.T) {
	seen := map[ui.Code]protocol.Code{}
	for c := protocol.CodeMalformed; c.Valid(); c++ {
		u := RefusalCode(c)
		m := Message(u)
		if m.Code != u || m.ZH == "" || m.EN == "" || m.ZH == m.EN {
			t.Errorf("%s → %s: message %+v", c, u, m)
		}
		if c >= protocol.CodeSpendOnly {
			if u == CodeLedgerRefused {
				t.Errorf("%s has no screen of its own", c)
			}
			if o, dup := seen[u]; dup {
				t.Errorf("%s and %s share the screen %s", o, c, u)
			}
			seen[u] = c
		}
	}
	for _, c := range []protocol.Code{protocol.CodeMalformed, protocol.CodeBadSignature, protocol.CodeUnknownDevice} {
		if RefusalCode(c) != CodeLedgerRefused {
			t.Errorf("%s → %s, want %s", c, RefusalCode(c), CodeLedgerRefused)
		}
	}
	if RefusalCode(protocol.Code(999)) != CodeLedgerRefused {
		t.Error("an unknown code is not ledger_refused")
	}
}

// TestScreens: every code of a claim's result has both texts.
func TestScreens(t *testing.T) {
	for _, c := range []ui.Code{CodeNothingPending, CodePurseLimit, CodeLedgerOffline, CodeLedgerRefused, CodeLoadTorn,
		CodeLoadUnresolved, CodeCardRefused, CodeNoPurse, CodeTapAgain, CodeStoreFault, CodeStorageFull, CodeSAMFault,
		CodeInvalidAmount, CodeSystemPINFailed} {
		if m := Message(c); m.Code != c || m.ZH == "" || m.EN == "" {
			t.Errorf("%s: %+v", c, m)
		}
	}
	if m := LoadedMessage(500, 1500); m.Code != CodeLoaded || !m.HasAmount || m.Amount != 500 || !m.HasBalance || m.Balance != 1500 {
		t.Errorf("loaded: %+v", m)
	}
	if m := EarlierLoadMessage(500, 1500); m.Code != CodeEarlierLoad || m.Amount != 500 || m.Balance != 1500 {
		t.Errorf("earlier load: %+v", m)
	}
}
