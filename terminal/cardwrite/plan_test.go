package cardwrite_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardwrite"
)

// TestPlan: each write's commands on the card profile (docs/architecture.md
// §4.1.1): the limit keeps the card's daily limit; a 解挂 stamps the list
// version, sets the status byte only when it differs and unblocks only a
// blocked card made normal; an extension writes the BCD end; a PIN is no
// data write; bad values are refused.
func TestPlan(t *testing.T) {
	c := cardwrite.Card{Campus: epurse.CampusData{DailyLimit: 30000}, Public: epurse.PublicData{Status: epurse.CardStatusNormal}}
	cmds, unblock, err := cardwrite.Plan(protocol.CardWrite{WriteID: "W-1", Field: protocol.FieldTxLimit, TxLimit: 2000}, c)
	if err != nil || unblock || len(cmds) != 1 || !bytes.Equal(cmds[0].Data, epurse.LimitsWrite(2000, 30000).Data) || cmds[0].SFI != epurse.SFICampus {
		t.Fatalf("tx-limit: %+v %v %v", cmds, unblock, err)
	}
	st := protocol.CardWrite{WriteID: "W-2", Field: protocol.FieldStatus, StatusVersion: 9}
	if cmds, unblock, err := cardwrite.Plan(st, c); err != nil || unblock || len(cmds) != 1 || cmds[0].Offset != epurse.CampusListVersionOffset {
		t.Fatalf("status of a normal card: %+v %v %v", cmds, unblock, err)
	}
	locked := c
	locked.Public.Status, locked.Blocked = 0x03, true
	if cmds, unblock, err := cardwrite.Plan(st, locked); err != nil || !unblock || len(cmds) != 2 || cmds[1].SFI != epurse.SFIPublicData || cmds[1].Data[0] != 0 {
		t.Fatalf("status of a locked, blocked card: %+v %v %v", cmds, unblock, err)
	}
	cancel := st
	cancel.CardStatus = epurse.CardStatusCancelled
	if cmds, unblock, err := cardwrite.Plan(cancel, locked); err != nil || unblock || len(cmds) != 2 {
		t.Fatalf("cancel: %+v %v %v", cmds, unblock, err)
	}
	ext := protocol.CardWrite{WriteID: "W-3", Field: protocol.FieldValidUntil, ValidUntil: "20310831"}
	if cmds, _, err := cardwrite.Plan(ext, c); err != nil || len(cmds) != 1 || !bytes.Equal(cmds[0].Data, []byte{0x20, 0x31, 0x08, 0x31}) {
		t.Fatalf("valid-until: %+v %v", cmds, err)
	}
	if _, _, err := cardwrite.Plan(protocol.CardWrite{WriteID: "W-4", Field: protocol.FieldPIN}, c); !errors.Is(err, cardwrite.ErrNotWritable) {
		t.Fatalf("pin: %v", err)
	}
	for _, bad := range []protocol.CardWrite{
		{WriteID: "W-5", Field: protocol.FieldTxLimit, TxLimit: -1},
		{WriteID: "W-6", Field: protocol.FieldValidUntil, ValidUntil: "2031-08"},
		{WriteID: "W-7", Field: protocol.FieldValidUntil, ValidUntil: "20311399"},
	} {
		if _, _, err := cardwrite.Plan(bad, c); err == nil {
			t.Errorf("%+v planned", bad)
		}
	}
}
