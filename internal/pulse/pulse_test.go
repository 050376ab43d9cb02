package pulse_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/load"
	"github.com/regiondrill/regiondrill/internal/pulse"
)

func TestTake(t *testing.T) {
	clock := time.Unix(0, 0)
	p := pulse.New(func() time.Time { return clock })
	obs := pulse.Tee(load.NewRecorder(), p)
	obs.(load.RegionObserver).RegionSeen(1, "us-east")
	obs.(load.RegionObserver).RegionSeen(2, "eu-west")
	ms := int64(time.Millisecond)
	for i := range 100 {
		r := load.Record{Seq: uint64(i), Kind: load.KindAsk, Sched: 0, End: int64(i+1) * ms, Status: 200, Region: 1 + uint8(i%2)}
		if i >= 90 {
			r.Status, r.Err, r.Region = 503, load.ErrStatus5xx, 0
		}
		obs.Started(r)
		obs.Finished(r)
	}
	obs.Finished(load.Record{Kind: load.KindToken, End: ms})                      // not a request of the drill's traffic
	obs.Finished(load.Record{Kind: load.KindAsk, End: ms, Err: load.ErrCanceled}) // cut off at the end of the run
	obs.Finished(load.Record{Kind: load.KindAsk})                                 // still in flight
	clock = clock.Add(1500 * time.Millisecond)
	got := p.Take()
	want := pulse.Second{Span: 1.5, Requests: 100, Errors: 10, Err5xx: 10, P50MS: 50, P95MS: 95, P99MS: 99,
		ByRegion: map[string]int{"us-east": 45, "eu-west": 45}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	clock = clock.Add(time.Second)
	if got := p.Take(); got.Requests != 0 || got.Span != 1 || got.P95MS != 0 || len(got.ByRegion) != 0 {
		t.Fatalf("an empty second: %+v", got)
	}
}
