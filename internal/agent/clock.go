package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/regiondrill/regiondrill/internal/event"
)

// Sample is one clock probe, NTP-style: T0 when the coordinator sent it and
// T3 when the answer came back, by the coordinator's clock; T1 when the
// agent received it and T2 when it answered, by the agent's. Unix ns.
type Sample struct{ T0, T1, T2, T3 int64 }

// Delay is the round trip minus the agent's own time: what the network and
// NATS took.
func (s Sample) Delay() int64 { return (s.T3 - s.T0) - (s.T2 - s.T1) }

// Offset is the agent's clock minus the coordinator's, assuming the two
// legs took equally long. Its error is at most Delay/2.
func (s Sample) Offset() int64 { return ((s.T1 - s.T0) + (s.T2 - s.T3)) / 2 }

// ErrNoSamples is returned by Estimate with nothing usable to estimate from.
var ErrNoSamples = errors.New("agent: no clock sample")

// Estimate keeps the sample with the smallest delay (NTP's clock filter):
// queueing only ever adds delay, and the less delay a sample saw, the less
// an asymmetry between its two legs can have skewed it. Samples with a
// negative delay (a clock stepped during the probe) are dropped.
func Estimate(samples []Sample) (event.ClockOffset, error) {
	best, ok := Sample{}, false
	n := 0
	for _, s := range samples {
		if s.Delay() < 0 {
			continue
		}
		n++
		if !ok || s.Delay() < best.Delay() {
			best, ok = s, true
		}
	}
	if !ok {
		return event.ClockOffset{}, ErrNoSamples
	}
	return event.ClockOffset{OffsetNS: best.Offset(), DelayNS: best.Delay(), Samples: n}, nil
}

// probeCount is how many probes one measurement sends.
const probeCount = 9

// MeasureOffset probes the named agent's clock probeCount times over NATS
// request/reply, one after the other, and estimates its offset. clock is
// the coordinator's.
func MeasureOffset(ctx context.Context, nc *nats.Conn, name string, clock func() time.Time) (event.ClockOffset, error) {
	var samples []Sample
	var lastErr error
	for range probeCount {
		if ctx.Err() != nil {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		t0 := clock().UnixNano()
		msg, err := nc.RequestWithContext(rctx, ClockSubject(name), nil)
		t3 := clock().UnixNano()
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		var r ClockReply
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			lastErr = err
			continue
		}
		samples = append(samples, Sample{T0: t0, T1: r.RecvNS, T2: r.SendNS, T3: t3})
	}
	off, err := Estimate(samples)
	if err != nil && lastErr != nil {
		return off, fmt.Errorf("clock of agent %s: %w", name, lastErr)
	}
	return off, err
}

// answerClock answers clock probes with the agent's clock.
func answerClock(clock func() time.Time) nats.MsgHandler {
	return func(m *nats.Msg) {
		recv := clock().UnixNano()
		b, _ := json.Marshal(ClockReply{RecvNS: recv, SendNS: clock().UnixNano()}) // two int64s always marshal
		_ = m.Respond(b)
	}
}
