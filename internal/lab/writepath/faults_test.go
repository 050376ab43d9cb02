package writepath_test

import (
	"testing"

	"github.com/regiondrill/regiondrill/internal/lab/writepath"
)

// Each fault must change behaviour, and its absence must not.
func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults writepath.Faults
		run    func(t *testing.T, l *lab) (records, direct, deliveries int)
		want   [3]int // records of the key, direct records, sink deliveries of its event
	}{
		{"default freeze", writepath.Faults{}, frozenFollowerWrite, [3]int{1, 0, 1}},
		{"NoFreeze", writepath.Faults{NoFreeze: true}, frozenFollowerWrite, [3]int{2, 1, 1}},
		{"default dedupe", writepath.Faults{}, replayedWrite, [3]int{1, 0, 1}},
		{"NoDedupe", writepath.Faults{NoDedupe: true}, replayedWrite, [3]int{2, 0, 2}},
		{"default emit policy", writepath.Faults{}, emittedWrite, [3]int{1, 0, 1}},
		{"WebhooksFromAll", writepath.Faults{WebhooksFromAll: true}, emittedWrite, [3]int{1, 0, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, tc.faults, "eu", "us")
			l.startAll()
			rec, dir, del := tc.run(t, l)
			if got := [3]int{rec, dir, del}; got != tc.want {
				t.Fatalf("records, direct, deliveries = %v, want %v", got, tc.want)
			}
		})
	}
}

func count(t *testing.T, l *lab, key, eventID string, rev int) (int, int, int) {
	t.Helper()
	l.settled()
	ws := l.stored(key)
	direct := 0
	for _, w := range ws {
		if w.Direct {
			direct++
		}
	}
	return len(ws), direct, len(l.deliveriesOf(writepath.EventID(eventID, rev)))
}

// frozenFollowerWrite writes to a frozen follower, checks its store, then unfreezes it.
func frozenFollowerWrite(t *testing.T, l *lab) (int, int, int) {
	us := l.r("us")
	us.path.SetFrozen(true)
	mustAccept(t, us.url, "fz", writeBody("fz", 1, "x"))
	waitFor(t, "queued on the frozen region", func() bool { return us.path.Stats().Backlog == 1 })
	direct := len(getWrites(t, us.url).Writes)
	if l.faults.NoFreeze != (direct == 1) {
		t.Fatalf("frozen follower store has %d records (NoFreeze=%v)", direct, l.faults.NoFreeze)
	}
	if st := us.path.State(); !st.Frozen {
		t.Fatalf("state = %+v, want frozen", st)
	}
	us.path.SetFrozen(false)
	waitFor(t, "applied by the primary", func() bool {
		for _, w := range getWrites(t, l.r("eu").url).Writes {
			if w.Key == "fz" {
				return true
			}
		}
		return false
	})
	return count(t, l, "fz", "fz", 1)
}

// replayedWrite sends the same key twice, the second after the first applied.
func replayedWrite(t *testing.T, l *lab) (int, int, int) {
	eu := l.r("eu")
	body := writeBody("rp", 1, "x")
	mustAccept(t, eu.url, "rp", body)
	waitFor(t, "first applied", func() bool { return len(l.stored("rp")) == 1 })
	l.settled()
	mustAccept(t, eu.url, "rp", body)
	l.settled()
	return count(t, l, "rp", "rp", 1)
}

// emittedWrite is applied by eu with the policy "emit from eu only".
func emittedWrite(t *testing.T, l *lab) (int, int, int) {
	l.setEmitFrom("eu")
	mustAccept(t, l.r("eu").url, "em", writeBody("em", 1, "x"))
	waitFor(t, "delivered", func() bool { return len(l.deliveriesOf(writepath.EventID("em", 1))) >= 1 })
	rec, dir, del := count(t, l, "em", "em", 1)
	for _, d := range l.deliveriesOf(writepath.EventID("em", 1)) {
		if d.Region != "eu" && !l.faults.WebhooksFromAll {
			t.Fatalf("delivery from %s, outside emit_from", d.Region)
		}
	}
	return rec, dir, del
}
