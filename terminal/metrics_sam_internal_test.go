package terminal

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// pulledSAM is a PSAM that answers until it is pulled from its slot, then
// fails every command as a PC/SC slot without a card does.
type pulledSAM struct{ pulled bool }

func (p *pulledSAM) err() error {
	if p.pulled {
		return fmt.Errorf("sam: transmit: %w", reader.ErrCardRemoved)
	}
	return nil
}
func (p *pulledSAM) TerminalID(context.Context) ([6]byte, error) { return [6]byte{1}, p.err() }
func (p *pulledSAM) InitPurchase(context.Context, epurse.SAMPurchaseRequest) (uint32, [4]byte, error) {
	return 1, [4]byte{}, p.err()
}
func (p *pulledSAM) VerifyMAC2(context.Context, [4]byte) error {
	if err := p.err(); err != nil {
		return err
	}
	return fmt.Errorf("sam: credit: %w", epurse.ErrMACInvalid)
}

type pulledPINSAM struct{ pulledSAM }

func (p *pulledPINSAM) SystemPIN(context.Context, epurse.SystemPINRequest) ([]byte, error) {
	return []byte{0x12, 0x34}, p.err()
}

// TestWatchSAM: the PSAM-up state follows the last command (a refused
// MAC2 is an answer, a pulled PSAM is not, a cancelled context says
// nothing), errors are counted, and the wrapper gives a system PIN exactly
// when the PSAM does.
func TestWatchSAM(t *testing.T) {
	var st psamState
	inner := &pulledSAM{}
	s := watchSAM(inner, &st)
	if _, ok := s.(epurse.SystemPINSource); ok {
		t.Fatal("a PSAM without a system PIN gained one through the wrapper")
	}
	ctx := context.Background()
	if st.state.Load() != 0 {
		t.Fatal("state before any command")
	}
	if err := s.VerifyMAC2(ctx, [4]byte{}); !errors.Is(err, epurse.ErrMACInvalid) {
		t.Fatalf("VerifyMAC2: %v", err)
	}
	if st.state.Load() != 1 {
		t.Errorf("after a refused MAC2: state %d, want 1 (up)", st.state.Load())
	}
	inner.pulled = true
	if _, err := s.TerminalID(ctx); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("TerminalID of a pulled PSAM: %v", err)
	}
	if _, _, err := s.InitPurchase(ctx, epurse.SAMPurchaseRequest{}); err == nil {
		t.Fatal("InitPurchase of a pulled PSAM: no error")
	}
	if st.state.Load() != 2 || st.errors.Load() != 2 {
		t.Errorf("pulled: state %d errors %d, want 2 and 2", st.state.Load(), st.errors.Load())
	}
	inner.pulled = false
	if _, err := s.TerminalID(ctx); err != nil {
		t.Fatal(err)
	}
	if st.state.Load() != 1 || st.errors.Load() != 2 {
		t.Errorf("back: state %d errors %d, want 1 and 2", st.state.Load(), st.errors.Load())
	}
	st.note(context.Canceled)
	if st.state.Load() != 1 || st.errors.Load() != 2 {
		t.Errorf("a cancelled command changed the state: %d, %d", st.state.Load(), st.errors.Load())
	}

	var st2 psamState
	pin := &pulledPINSAM{}
	s2 := watchSAM(pin, &st2)
	src, ok := s2.(epurse.SystemPINSource)
	if !ok {
		t.Fatal("the wrapper lost the PSAM's system PIN")
	}
	pin.pulled = true
	if _, err := src.SystemPIN(ctx, epurse.SystemPINRequest{}); err == nil || st2.state.Load() != 2 {
		t.Errorf("SystemPIN of a pulled PSAM: %v, state %d", err, st2.state.Load())
	}
	if watchSAM(nil, &st2) != nil {
		t.Error("watchSAM(nil) is not nil: a gate would look like it has a PSAM")
	}
}
