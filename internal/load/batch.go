package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
)

// Batch is a run of records as the journal stores them: each record is a
// JSON array of integers in the order of batchFields, about half the size of
// the object form and decoded without reflection. A batch in the object form
// (older journals) decodes too.
type Batch []Record

// batchFields names the columns of the array form, for readers of journals.
var batchFields = [...]string{"seq", "write_id", "sched", "start", "end", "session", "status",
	"kind", "attempt", "region", "sticky", "err", "flags"}

// Record flags in the array form.
const (
	flagCold = 1 << iota
	flagCached
	flagReplay
)

// MarshalJSON writes the array form.
func (b Batch) MarshalJSON() ([]byte, error) {
	return b.AppendJSON(make([]byte, 0, 2+len(b)*recordGuess)), nil
}

// recordGuess is about what one record takes in the array form with a
// vantage's Seq and times of a long run; recordMax is the most it can take.
const (
	recordGuess = 88
	recordMax   = 2 + 5*21 + 8*20 + 12
)

// AppendJSON appends the array form to out: the bytes MarshalJSON returns,
// compact JSON that the journal's AppendRaw takes as it is.
func (b Batch) AppendJSON(out []byte) []byte {
	out = append(out, '[')
	for i := range b {
		if cap(out)-len(out) < recordMax+2 {
			out = slices.Grow(out, max(recordMax+2, (len(b)-i)*recordGuess))
		}
		if i > 0 {
			out = append(out, ',')
		}
		r := &b[i]
		var flags uint64
		if r.Cold {
			flags |= flagCold
		}
		if r.Cached {
			flags |= flagCached
		}
		if r.Replay {
			flags |= flagReplay
		}
		out = append(out, '[')
		out = appendUint(out, r.Seq)
		out = appendUint(append(out, ','), r.WriteID)
		for _, v := range [...]int64{r.Sched, r.Start, r.End} {
			out = appendInt(append(out, ','), v)
		}
		for _, v := range [...]uint64{uint64(r.Session), uint64(r.Status), uint64(r.Kind), uint64(r.Attempt),
			uint64(r.Region), uint64(r.Sticky), uint64(r.Err), flags} {
			out = appendUint(append(out, ','), v)
		}
		out = append(out, ']')
	}
	return append(out, ']')
}

// appendInt appends v in decimal, as strconv.AppendInt does.
func appendInt(out []byte, v int64) []byte {
	if v < 0 {
		return appendUint(append(out, '-'), uint64(-v)) // -MinInt64 wraps to its own magnitude
	}
	return appendUint(out, uint64(v))
}

// appendUint appends v in decimal, as strconv.AppendUint does, but in
// place, two digits at a time, without a call to copy them.
func appendUint(out []byte, v uint64) []byte {
	if v < 10 {
		return append(out, byte('0'+v))
	}
	n := decimalLen(v)
	l := len(out)
	out = slices.Grow(out, n)[:l+n]
	i := l + n
	for v >= 100 {
		q := v / 100
		d := (v - q*100) * 2
		i -= 2
		out[i], out[i+1] = digitPairs[d], digitPairs[d+1]
		v = q
	}
	if v >= 10 {
		out[i-2], out[i-1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		out[i-1] = byte('0' + v)
	}
	return out
}

const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

// decimalLen is how many decimal digits v has (v > 0).
func decimalLen(v uint64) int {
	n := (bits.Len64(v) * 1233) >> 12 // about log10(v): exact or one short
	if v >= pow10[n] {
		n++
	}
	return n
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	1e17, 1e18, 1e19}

// UnmarshalJSON reads the array form, or the object form of older journals.
func (b *Batch) UnmarshalJSON(data []byte) error {
	p := batchParser{s: data}
	p.space()
	if !p.eat('[') {
		return p.fail("a batch must be a JSON array")
	}
	p.space()
	if p.peek() == '{' { // object form
		var recs []Record
		if err := json.Unmarshal(data, &recs); err != nil {
			return err
		}
		*b = recs
		return nil
	}
	out := (*b)[:0]
	if out == nil {
		out = make(Batch, 0, max(0, bytes.Count(data, []byte("]"))-1))
	}
	if p.eat(']') {
		*b = out
		return nil
	}
	for {
		r, err := p.record()
		if err != nil {
			return err
		}
		out = append(out, r)
		p.space()
		if p.eat(']') {
			break
		}
		if !p.eat(',') {
			return p.fail("expected , or ] after a record")
		}
		p.space()
	}
	p.space()
	if p.i != len(p.s) {
		return p.fail("trailing data after the batch")
	}
	*b = out
	return nil
}

type batchParser struct {
	s []byte
	i int
}

func (p *batchParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *batchParser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *batchParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *batchParser) fail(msg string) error {
	return fmt.Errorf("load: record batch at byte %d: %s", p.i, msg)
}

// int reads one JSON integer that fits in [lo, hi].
func (p *batchParser) int(lo, hi int64) (int64, error) {
	p.space()
	start := p.i
	neg := p.eat('-')
	var v uint64
	digits := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		d := uint64(p.s[p.i] - '0')
		if v > (1<<63-1-d)/10 {
			return 0, p.fail("number out of range")
		}
		v = v*10 + d
		p.i++
		digits++
	}
	if digits == 0 || (digits > 1 && p.s[start+b2i(neg)] == '0') {
		p.i = start
		return 0, p.fail("expected an integer")
	}
	n := int64(v)
	if neg {
		n = -n
	}
	if n < lo || n > hi {
		p.i = start
		return 0, p.fail(fmt.Sprintf("%d out of range [%d, %d]", n, lo, hi))
	}
	return n, nil
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// record reads one [..13 integers..] array.
func (p *batchParser) record() (Record, error) {
	if !p.eat('[') {
		return Record{}, p.fail("a record must be an array")
	}
	const maxI = 1<<63 - 1
	limits := [len(batchFields)][2]int64{
		{0, maxI}, {0, maxI}, {-maxI, maxI}, {-maxI, maxI}, {-maxI, maxI},
		{0, 1<<32 - 1}, {0, 1<<16 - 1}, {0, int64(len(kindNames)) - 1}, {0, 255},
		{0, 255}, {0, 255}, {0, int64(NumErrClasses) - 1}, {0, flagCold | flagCached | flagReplay},
	}
	var v [len(batchFields)]int64
	for k := range v {
		if k > 0 {
			p.space()
			if !p.eat(',') {
				return Record{}, p.fail(fmt.Sprintf("record has %d fields, want %d", k, len(batchFields)))
			}
		}
		n, err := p.int(limits[k][0], limits[k][1])
		if err != nil {
			return Record{}, fmt.Errorf("field %s: %w", batchFields[k], err)
		}
		v[k] = n
	}
	p.space()
	if !p.eat(']') {
		return Record{}, p.fail(fmt.Sprintf("record has more than %d fields", len(batchFields)))
	}
	return Record{
		Seq: uint64(v[0]), WriteID: uint64(v[1]), Sched: v[2], Start: v[3], End: v[4],
		Session: uint32(v[5]), Status: uint16(v[6]), Kind: Kind(v[7]), Attempt: uint8(v[8]),
		Region: uint8(v[9]), Sticky: uint8(v[10]), Err: ErrClass(v[11]),
		Cold: v[12]&flagCold != 0, Cached: v[12]&flagCached != 0, Replay: v[12]&flagReplay != 0,
	}, nil
}

var (
	_ json.Marshaler   = Batch(nil)
	_ json.Unmarshaler = (*Batch)(nil)
)
