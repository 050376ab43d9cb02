package edge

import (
	"testing"
	"time"
)

// A check that got no answer is a miss only if it ended about when its
// timer was due; one that ended much later was held up by a stall of this
// process, and counts neither way.
func TestStalledCheck(t *testing.T) {
	const timeout = time.Second
	tests := []struct {
		took time.Duration
		want bool
	}{
		{time.Millisecond, false},       // refused at once: a miss
		{timeout, false},                // timed out on time: a miss
		{timeout + lateSlack, false},    // within the slack
		{timeout + lateSlack + 1, true}, // its timer fired late
		{3 * timeout, true},             // a long stall
	}
	for _, tt := range tests {
		if got := stalled(tt.took, timeout); got != tt.want {
			t.Errorf("stalled(%v) = %v, want %v", tt.took, got, tt.want)
		}
	}
}
