package load

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func randomBatch(n int, seed uint64) Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make(Batch, n)
	for i := range b {
		b[i] = Record{Seq: r.Uint64N(1 << 40), WriteID: r.Uint64N(1 << 30), Sched: r.Int64() - 1<<62,
			Start: r.Int64N(1 << 50), End: r.Int64N(1 << 50), Session: r.Uint32(), Status: uint16(r.UintN(1 << 16)),
			Kind: Kind(r.IntN(3)), Attempt: uint8(r.UintN(256)), Region: uint8(r.UintN(256)),
			Sticky: uint8(r.UintN(256)), Err: ErrClass(r.IntN(int(NumErrClasses))),
			Cold: r.IntN(2) == 0, Cached: r.IntN(2) == 0, Replay: r.IntN(2) == 0}
	}
	return b
}

func TestBatchRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 5000} {
		in := randomBatch(n, uint64(n))
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Batch
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if n == 0 {
			out = Batch{}
			in = Batch{}
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("n=%d: round trip differs", n)
		}
	}
}

func TestBatchReadsTheObjectForm(t *testing.T) {
	in := []Record(randomBatch(20, 3))
	data, err := json.Marshal(in) // []Record: the object form
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"seq":`) {
		t.Fatal("expected the object form")
	}
	var out Batch
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(Batch(in), out) {
		t.Fatal("object form decoded differently")
	}
}

func TestBatchRefusesMalformedRecords(t *testing.T) {
	for _, bad := range []string{
		`{}`, `[[1,2,3]]`, `[[1,0,0,0,0,0,200,1,0,0,0,0,0,9]]`, `[[1,0,0,0,0,0,70000,1,0,0,0,0,0]]`,
		`[[1,0,0,0,0,0,200,3,0,0,0,0,0]]`, `[[1,0,0,0,0,0,200,1,0,0,0,10,0]]`, `[[1,0,0,0,0,0,200,1,0,0,0,0,8]]`,
		`[[-1,0,0,0,0,0,200,1,0,0,0,0,0]]`, `[[01,0,0,0,0,0,200,1,0,0,0,0,0]]`, `[[1.5,0,0,0,0,0,200,1,0,0,0,0,0]]`,
		`[[1,0,0,0,0,0,200,1,0,0,0,0,0]`, `[[1,0,0,0,0,0,200,1,0,0,0,0,0]]x`, `[[99999999999999999999,0,0,0,0,0,200,1,0,0,0,0,0]]`,
	} {
		var out Batch
		if err := out.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func FuzzBatch(f *testing.F) {
	good, _ := json.Marshal(randomBatch(3, 9))
	f.Add(good)
	f.Add([]byte(`[[1,0,0,0,0,0,200,1,0,0,0,0,0]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Batch
		if b.UnmarshalJSON(data) != nil {
			return
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var b2 Batch
		if err := json.Unmarshal(again, &b2); err != nil || len(b2) != len(b) {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
	})
}

// arrayForm is the array form written the plain way, with strconv, for
// AppendJSON to match byte for byte.
func arrayForm(b Batch) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, r := range b {
		if i > 0 {
			sb.WriteByte(',')
		}
		flags := 0
		for k, on := range []bool{r.Cold, r.Cached, r.Replay} {
			if on {
				flags |= 1 << k
			}
		}
		f := []string{strconv.FormatUint(r.Seq, 10), strconv.FormatUint(r.WriteID, 10),
			strconv.FormatInt(r.Sched, 10), strconv.FormatInt(r.Start, 10), strconv.FormatInt(r.End, 10),
			strconv.FormatUint(uint64(r.Session), 10), strconv.Itoa(int(r.Status)), strconv.Itoa(int(r.Kind)),
			strconv.Itoa(int(r.Attempt)), strconv.Itoa(int(r.Region)), strconv.Itoa(int(r.Sticky)),
			strconv.Itoa(int(r.Err)), strconv.Itoa(flags)}
		sb.WriteString("[" + strings.Join(f, ",") + "]")
	}
	sb.WriteByte(']')
	return sb.String()
}

func TestAppendJSONWritesTheArrayForm(t *testing.T) {
	edges := Batch{{}, {Seq: math.MaxUint64, WriteID: math.MaxUint64, Sched: math.MinInt64, Start: math.MaxInt64, End: -1,
		Session: math.MaxUint32, Status: math.MaxUint16, Kind: 2, Attempt: 255, Region: 255, Sticky: 255, Err: NumErrClasses - 1,
		Cold: true, Cached: true, Replay: true}}
	for p := uint64(1); p < math.MaxUint64/10; p *= 10 { // every length of number, and its edges
		for _, v := range []uint64{p - 1, p, p + 1, 2*p - 1, 9 * p} {
			edges = append(edges, Record{Seq: v, WriteID: v / 3, Sched: -int64(v), Start: int64(v), End: int64(v / 7), Session: uint32(v)})
		}
	}
	for _, b := range []Batch{nil, edges, randomBatch(3000, 11)} {
		want := arrayForm(b)
		if got, _ := b.MarshalJSON(); string(got) != want {
			t.Fatalf("MarshalJSON of %d records:\n got %.300s\nwant %.300s", len(b), got, want)
		}
		if got := b.AppendJSON([]byte("x")); string(got) != "x"+want {
			t.Fatalf("AppendJSON of %d records did not append", len(b))
		}
	}
}

func BenchmarkBatchEncode(b *testing.B) {
	in := randomBatch(5000, 5)
	data, _ := in.MarshalJSON()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = in.MarshalJSON()
	}
}

func BenchmarkBatchDecode(b *testing.B) {
	data, _ := json.Marshal(randomBatch(5000, 5))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var out Batch
		if err := out.UnmarshalJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}
