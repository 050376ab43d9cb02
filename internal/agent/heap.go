package agent

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultHeapFloor is how much an agent lets its heap grow between two
// collections while it loads, at least.
//
// An agent sends its records away every 200 ms, so its live heap stays at a
// few MiB. With the default GOGC=100 the runtime then collects each time
// about 4 MiB more were allocated: at full rate that is about a hundred
// collections a second, and during each one the write barrier and the mark
// assists slow every request (measured: 10 % of the agent's CPU in the
// collector, against 4 % for the local generator, whose recorder keeps every
// record and so collects a third as often). 64 MiB brings the agent's
// collections down to a few a second, for at most that much more memory.
const DefaultHeapFloor = 64 << 20

// heapFloor sets GOGC, while an assignment runs, so that the next
// collection comes after about floor bytes of allocation, and never below
// the ratio the process started with: once the live heap is large (records
// piling up while NATS is away) it is the usual ratio again.
type heapFloor struct {
	floor  uint64
	base   int // the GOGC in force before; restored by stop
	set    int // the GOGC set last
	sample []metrics.Sample
}

// The runtime's goal is the live heap plus GOGC percent of the live heap,
// the goroutine stacks and the globals (since Go 1.18).
var heapMetrics = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// holdHeapFloor starts keeping the floor, retuned every period, until the
// returned stop is called. It does nothing when floor is 0, or when the
// user chose GOGC in the environment (theirs wins).
func holdHeapFloor(floor uint64, period time.Duration) (stop func()) {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	h := &heapFloor{floor: floor}
	for _, name := range heapMetrics {
		h.sample = append(h.sample, metrics.Sample{Name: name})
	}
	h.base = debug.SetGCPercent(100)
	if h.base <= 0 { // GOGC=off (or 0) set by the program: leave it
		debug.SetGCPercent(h.base)
		return func() {}
	}
	h.set = h.base
	h.tune()
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				h.tune()
			}
		}
	}()
	return func() {
		close(done)
		<-exited
		debug.SetGCPercent(h.base)
	}
}

// percent is the GOGC that puts the runtime's goal about floor bytes past
// the live heap, given what the ratio applies to (live heap, stacks,
// globals). It is never below base, and never above the ratio at which the
// runtime's own minimum heap (4 MiB scaled by GOGC/100) would pass the
// floor: on a near-empty heap that minimum is the goal.
func (h *heapFloor) percent(scannable uint64) int {
	const runtimeMin = 4 << 20
	top := max(h.base, int(h.floor*100/runtimeMin))
	p := int(min(h.floor*100/max(scannable, 1), uint64(top)))
	return max(p, h.base)
}

// tune reads the runtime's figures and sets GOGC when the right ratio
// moved by a tenth or more.
func (h *heapFloor) tune() {
	metrics.Read(h.sample)
	var scannable uint64
	for _, s := range h.sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return // a runtime without these metrics: leave GOGC alone
		}
		scannable += s.Value.Uint64()
	}
	p := h.percent(scannable)
	if d := p - h.set; d*10 >= h.set || -d*10 >= h.set {
		debug.SetGCPercent(p)
		h.set = p
	}
}
