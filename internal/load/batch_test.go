package load

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
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
