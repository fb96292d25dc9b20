package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/openykt/yktd/protocol"
)

// Defaults of the server's overload limits (Options.MaxRequests,
// MaxBodyMemory, BodyTimeout).
const (
	DefaultMaxRequests   = 64
	DefaultMaxBodyMemory = 32 << 20
	DefaultBodyTimeout   = 30 * time.Second
)

// peekSize bounds the start of a body read before its kid is known: the
// tag, the array head and the protected header of a COSE_Sign1.
const peekSize = 512

// limits are the server's admission control: how many /v1/ requests it
// serves at once and how many body bytes it holds at once. A request
// beyond either is answered rate-limited (15, HTTP 429) before its body is
// read, so that slow or large bodies cannot make the ledger buffer without
// bound.
type limits struct {
	maxRequests int64
	maxBody     int64
	bodyTimeout time.Duration

	requests  atomic.Int64 // requests being served
	bodyBytes atomic.Int64 // body bytes reserved
	refused   atomic.Int64 // answered rate-limited, since start
	lastLog   atomic.Int64 // Unix second of the last overload warning
}

func newLimits(o *Options) *limits {
	return &limits{maxRequests: int64(o.MaxRequests), maxBody: o.MaxBodyMemory, bodyTimeout: o.BodyTimeout}
}

// enter takes a request slot; false when all are taken.
func (lm *limits) enter() bool {
	if lm.requests.Add(1) > lm.maxRequests {
		lm.requests.Add(-1)
		return false
	}
	return true
}

func (lm *limits) leave() { lm.requests.Add(-1) }

// reserve takes n bytes of the body budget; false when they are not free.
func (lm *limits) reserve(n int64) bool {
	for {
		cur := lm.bodyBytes.Load()
		if cur+n > lm.maxBody {
			return false
		}
		if lm.bodyBytes.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (lm *limits) release(n int64) { lm.bodyBytes.Add(-n) }

// InFlight is what the server holds now: requests being served and body
// bytes reserved, and how many requests it answered rate-limited since it
// started (for monitoring and tests).
type InFlight struct {
	Requests    int64
	BodyBytes   int64
	RateLimited int64
}

// InFlight returns what the server holds now.
func (s *Server) InFlight() InFlight {
	return InFlight{Requests: s.lim.requests.Load(), BodyBytes: s.lim.bodyBytes.Load(), RateLimited: s.lim.refused.Load()}
}

// overloaded answers rate-limited and logs a warning at most once a second.
func (s *Server) overloaded(w http.ResponseWriter, why string) {
	n := s.lim.refused.Add(1)
	now := s.l.now().Unix()
	if last := s.lim.lastLog.Load(); now != last && s.lim.lastLog.CompareAndSwap(last, now) {
		s.log.Warn("ledger overloaded: requests answered rate-limited", "why", why, "rate_limited_total", n,
			"requests", s.lim.requests.Load(), "body_bytes", s.lim.bodyBytes.Load())
	}
	w.Header().Set("Retry-After", "1")
	body, _ := protocol.EncodeError(&protocol.Error{Code: protocol.CodeRateLimited, Message: "ledger busy: " + why})
	w.Header().Set("Content-Type", ContentTypeError)
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
}

// errBusy is readBody's overload refusal (answered by overloaded).
var errBusy = errors.New("ledger: body memory budget exhausted")

// readBody reads a request body of at most max bytes within the server's
// limits. A declared length above max is too-large before anything is
// read. When keys is not nil the kid of the COSE_Sign1 is read first, from
// at most peekSize bytes, and looked up in keys: a kid that is no enrolled
// device is refused (unknown-device) before the rest of the body is read.
// Only then are the body's bytes (the declared length, or max) reserved
// from the memory budget (errBusy when they are not free) and read, with
// a deadline of Options.BodyTimeout. release gives the reservation back.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, max int, keys protocol.KeySet) (body []byte, release func(), err error) {
	if r.ContentLength > int64(max) {
		return nil, nil, protocol.Errorf(protocol.CodeTooLarge, "body of %d bytes, at most %d", r.ContentLength, max)
	}
	if s.lim.bodyTimeout > 0 {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.lim.bodyTimeout)) // unsupported: the server's own timeouts apply
	}
	in := http.MaxBytesReader(w, r.Body, int64(max))
	var head []byte
	if keys != nil {
		if head, err = peekBody(in, r.ContentLength, keys); err != nil {
			return nil, nil, err
		}
	}
	size := int64(max)
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	if !s.lim.reserve(size) {
		return nil, nil, errBusy
	}
	release = func() { s.lim.release(size) }
	buf := make([]byte, size)
	n := copy(buf, head)
	for n < len(buf) {
		m, err := in.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			release()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, protocol.Errorf(protocol.CodeTooLarge, "body above %d bytes", max)
			}
			return nil, nil, protocol.Errorf(protocol.CodeMalformed, "read body: %v", err)
		}
	}
	if r.ContentLength < 0 { // no declared length: nothing may follow what fits
		if m, _ := in.Read(make([]byte, 1)); m > 0 {
			release()
			return nil, nil, protocol.Errorf(protocol.CodeTooLarge, "body above %d bytes", max)
		}
	} else if int64(n) != size {
		release()
		return nil, nil, protocol.Errorf(protocol.CodeMalformed, "body of %d bytes, %d declared", n, size)
	}
	return buf[:n], release, nil
}

// peekBody reads the start of a COSE_Sign1 body until its kid is known and
// checks it with keys; it returns the bytes read.
func peekBody(in io.Reader, declared int64, keys protocol.KeySet) ([]byte, error) {
	var buf [peekSize]byte
	n := 0
	for {
		kid, need, err := peekKid(buf[:n])
		if err != nil {
			return nil, err
		}
		if need == 0 {
			if _, err := keys.PublicKey(kid); err != nil {
				return nil, err
			}
			return buf[:n], nil
		}
		if declared >= 0 && int64(need) > declared {
			return nil, protocol.Errorf(protocol.CodeMalformed, "cose: body of %d bytes ends in the protected header", declared)
		}
		m, err := io.ReadAtLeast(in, buf[n:need], need-n)
		n += m
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, protocol.Errorf(protocol.CodeTooLarge, "body too large")
			}
			return nil, protocol.Errorf(protocol.CodeMalformed, "cose: read protected header: %v", err)
		}
	}
}

// peekHeader is the protected header as protocol's strict parser takes it
// (the same labels, no others).
type peekHeader struct {
	Alg         int64  `cbor:"1,keyasint"`
	ContentType string `cbor:"3,keyasint"`
	KeyID       []byte `cbor:"4,keyasint"`
	Version     uint64 `cbor:"-65537,keyasint,omitempty"`
}

var peekDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden, TagsMd: cbor.TagsForbidden,
		MaxNestedLevels: 4, MaxArrayElements: 16, MaxMapPairs: 16, ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8: cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// peekKid finds the kid in the start b of a tagged COSE_Sign1 (tag 18, a
// 4-array whose first item is the protected header as a byte string). It
// returns need > 0 when b is too short: the length of the start it needs;
// else the kid, which is a valid device id. Nothing in it is verified:
// it only decides whether the rest of the body is worth reading.
func peekKid(b []byte) (kid string, need int, err error) {
	bad := func(what string) (string, int, error) {
		return "", 0, protocol.Errorf(protocol.CodeMalformed, "cose: %s", what)
	}
	if len(b) < 3 {
		return "", 3, nil
	}
	if b[0] != 0xd2 || b[1] != 0x84 {
		return bad("not a tagged COSE_Sign1")
	}
	var hlen, off int
	switch c := b[2]; {
	case c >= 0x40 && c <= 0x57:
		hlen, off = int(c-0x40), 3
	case c == 0x58:
		if len(b) < 4 {
			return "", 4, nil
		}
		hlen, off = int(b[3]), 4
	case c == 0x59:
		if len(b) < 5 {
			return "", 5, nil
		}
		hlen, off = int(binary.BigEndian.Uint16(b[3:5])), 5
	default:
		return bad("protected header is not a short byte string")
	}
	if off+hlen > peekSize {
		return bad(fmt.Sprintf("protected header of %d bytes", hlen))
	}
	if len(b) < off+hlen {
		return "", off + hlen, nil
	}
	var h peekHeader
	if err := peekDec.Unmarshal(b[off:off+hlen], &h); err != nil {
		return bad(fmt.Sprintf("protected header: %v", err))
	}
	if !protocol.ValidDeviceID(string(h.KeyID)) {
		return bad("kid is not a device id")
	}
	return string(h.KeyID), 0, nil
}
