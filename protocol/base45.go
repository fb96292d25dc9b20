package protocol

import "errors"

// base45Alphabet is the alphabet of RFC 9285: the 45 characters of the QR
// code's alphanumeric mode.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// ErrBase45 is returned by Base45Decode for text that is not base45.
var ErrBase45 = errors.New("protocol: invalid base45")

// Base45Encode encodes b as base45 (RFC 9285): each two bytes, read as a
// big-endian number n, become three characters c d e with n = c + 45·d +
// 45²·e; a last single byte becomes two characters.
func Base45Encode(b []byte) string {
	out := make([]byte, 0, (len(b)/2)*3+2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/(45*45)])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

// Base45Decode decodes base45 text strictly: it refuses characters outside
// the alphabet (lower case included), a length of 3k+1, and triples or
// pairs whose value exceeds 65535 or 255 (RFC 9285 section 4.2: such
// input "MUST" be rejected).
func Base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, ErrBase45
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		k := min(3, len(s)-i)
		n := 0
		for j := k - 1; j >= 0; j-- {
			v := base45Index[s[i+j]]
			if v < 0 {
				return nil, ErrBase45
			}
			n = n*45 + int(v)
		}
		if k == 3 {
			if n > 0xffff {
				return nil, ErrBase45
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, ErrBase45
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
