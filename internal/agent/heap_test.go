package agent

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestHeapFloorPercent(t *testing.T) {
	h := &heapFloor{floor: 64 << 20, base: 100}
	for _, c := range []struct {
		scannable uint64
		want      int
	}{
		{2 << 20, 1600},       // a small agent: at most 1600, where the runtime's minimum heap is 64 MiB
		{8 << 20, 800},        // the goal about 64 MiB past the live heap
		{16 << 20, 400},       //
		{(64 << 20) / 3, 300}, // rounds down
		{64 << 20, 100},       // at the floor: the usual ratio
		{512 << 20, 100},      // records piling up: never below the usual ratio
		{0, 1600},             // a near-empty process
	} {
		if got := h.percent(c.scannable); got != c.want {
			t.Errorf("percent(%d) = %d, want %d", c.scannable, got, c.want)
		}
	}
	h.base = 50 // a program's own GOGC=50 is the lower bound
	if got := h.percent(512 << 20); got != 50 {
		t.Errorf("base 50, large heap: %d, want 50", got)
	}
	h.floor = 1 << 20 // a floor below the runtime's minimum changes nothing
	if got := h.percent(0); got != 50 {
		t.Errorf("base 50, 1 MiB floor: %d, want 50", got)
	}
}

// TestHoldHeapFloor allocates the same garbage with and without the floor:
// with it the collector runs several times less often, and stopping it
// restores the ratio that was in force. It runs in a process of its own:
// the package's other tests leave a live heap far above the floor, where
// the floor rightly changes nothing.
func TestHoldHeapFloor(t *testing.T) {
	if os.Getenv("HEAP_FLOOR_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHoldHeapFloor$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "HEAP_FLOOR_CHILD=1", "GOGC=")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestHoldHeapFloor") {
			t.Fatalf("the test in its own process: %v\n%s", err, out)
		}
		t.Logf("in its own process:\n%s", out)
		return
	}
	t.Setenv("GOGC", "") // the floor steps aside when the user set GOGC
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	cycles := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	var sink [][]byte
	churn := func() uint64 { // 256 MiB of short-lived garbage with little live heap
		runtime.GC()
		c0 := cycles()
		for i := range 1 << 14 {
			sink = append(sink, make([]byte, 16<<10))
			if i%64 == 63 {
				sink = sink[:0]
			}
		}
		return cycles() - c0
	}
	plain := churn()
	stop := holdHeapFloor(64<<20, time.Millisecond) // retuned as the churn runs, as every 250 ms in an agent
	got := debug.SetGCPercent(100)                  // reading it means setting it: set it back
	debug.SetGCPercent(got)
	if got <= 100 {
		stop()
		t.Fatalf("with the floor GOGC is %d, want more than 100", got)
	}
	floored := churn()
	stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after stop GOGC is %d, want the 100 in force before", got)
	}
	t.Logf("collections for 256 MiB of garbage: %d without the floor, %d with a 64 MiB floor", plain, floored)
	// About 256/64: a goal far past the floor would run fewer, and hold more.
	if floored*3 > plain || floored < 2 {
		t.Errorf("the floor did not cut collections: %d with it, %d without", floored, plain)
	}
}

func TestHoldHeapFloorRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "200")
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)
	stop := holdHeapFloor(64<<20, time.Hour)
	defer stop()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GOGC set by the user was changed to %d", got)
	}
	stop0 := holdHeapFloor(0, time.Hour)
	defer stop0()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("a zero floor changed GOGC to %d", got)
	}
}
