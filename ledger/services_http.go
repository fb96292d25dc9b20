package ledger

import (
	"fmt"
	"net/http"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// The HTTP handlers of the services and card writes (routes in server.go).

func (s *Server) services(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.ServiceRequest](servedKeys{s.l}, raw)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	ans, err := s.l.Service(r.Context(), dev, req)
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &ans)
}

// writeDevice checks that device dev may handle card writes: a kiosk, a
// POS or a desk (a desk naming its operator, the others none).
func (l *Ledger) writeDevice(dev, operator string) error {
	d, err := l.Device(dev)
	if err != nil {
		return err
	}
	switch {
	case d.Kind != "kiosk" && d.Kind != "pos" && d.Kind != "desk":
		return fmt.Errorf("ledger: card writes: device %s is a %s: %w", dev, d.Kind, ErrMalformed)
	case (d.Kind == "desk") != (operator != ""):
		return fmt.Errorf("ledger: card writes: a desk, and only a desk, names its operator: %w", ErrMalformed)
	}
	return nil
}

func (s *Server) pendingWrites(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.PendingWritesRequest](deviceKeys{s.l}, raw)
	var ws []CardWrite
	if err == nil {
		if err = s.l.writeDevice(dev, req.Operator); err == nil {
			ws, err = s.l.PendingWrites(req.CardNo)
		}
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	out := protocol.PendingWrites{CardNo: req.CardNo, Writes: []protocol.CardWrite{}}
	for i := range ws[:min(len(ws), protocol.MaxCardWrites)] {
		out.Writes = append(out.Writes, ws[i].Wire())
	}
	s.reply(w, dev, &out)
}

func (s *Server) cardWriteReport(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.CardWriteReport](deviceKeys{s.l}, raw)
	var cw CardWrite
	if err == nil {
		if err = s.l.writeDevice(dev, req.Operator); err == nil {
			var id uint64
			if id, err = ParseWriteID(req.WriteID); err == nil {
				cw, err = s.l.ReportCardWrite(WriteReport{DeviceID: dev, Operator: req.Operator, WriteID: id, CardNo: req.CardNo,
					Outcome: req.Outcome, Echo: req.Echo()})
			}
		}
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	s.reply(w, dev, &protocol.CardWriteAck{WriteID: cw.WriteID(), State: cw.State, StatusVersion: cw.Applied})
}

func (s *Server) cardWriteMAC(w http.ResponseWriter, r *http.Request) {
	raw, release, err := s.readBody(w, r, maxSmallBody, nil)
	if err != nil {
		s.fail(w, "", err)
		return
	}
	defer release()
	req, dev, err := protocol.OpenFromDevice[protocol.CardWriteMACRequest](servedKeys{s.l}, raw)
	var mac [4]byte
	var ok bool
	if err == nil {
		if err = s.l.writeDevice(dev, req.Operator); err == nil {
			var id uint64
			if id, err = ParseWriteID(req.WriteID); err == nil {
				mac, ok, err = s.l.WriteMAC(r.Context(), WriteMACRequest{DeviceID: dev, WriteID: id, CardNo: req.CardNo,
					CardWriteMACInput: CardWriteMACInput{CardSerial: [8]byte(req.CardSerial), KeyVersion: req.KeyVersion, Algorithm: epurse.Algorithm(req.Algorithm),
						Challenge: req.Challenge, Command: req.Command}})
			}
		}
	}
	if err != nil {
		s.fail(w, dev, err)
		return
	}
	out := protocol.CardWriteMAC{WriteID: req.WriteID}
	if ok {
		out.MAC = mac[:]
	}
	s.reply(w, dev, &out)
}
