package ledger_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/ledger"
	"github.com/regiondrill/regiondrill/internal/load"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func attempt(key string, o load.Outcome) load.WriteAttempt {
	return load.WriteAttempt{Key: key, BodyHash: "h-" + key, Outcome: o, Attempts: 1, AckedBy: map[bool]string{true: "eu-west"}[o == load.OutcomeAcked]}
}

func stored(key, by string, epoch uint64, at int) contract.StoredWrite {
	return contract.StoredWrite{Key: key, BodyHash: "h-" + key, AppliedBy: by, Epoch: epoch, AppliedAt: t0.Add(time.Duration(at) * time.Second)}
}

// clean: three acked writes applied once by eu-west (epoch 1), each copied to us-east.
func clean() ([]load.WriteAttempt, []contract.Writes) {
	at := []load.WriteAttempt{attempt("a", load.OutcomeAcked), attempt("b", load.OutcomeAcked), attempt("c", load.OutcomeAcked)}
	eu := contract.Writes{Region: "eu-west"}
	us := contract.Writes{Region: "us-east"}
	for i, k := range []string{"a", "b", "c"} {
		w := stored(k, "eu-west", 1, i)
		eu.Writes = append(eu.Writes, w)
		w.Replica = true
		us.Writes = append(us.Writes, w)
	}
	return at, []contract.Writes{eu, us}
}

func TestClassifyClean(t *testing.T) {
	at, st := clean()
	l := ledger.Classify(at, st)
	if l.Attempted != 3 || l.Acknowledged != 3 || l.OK != 3 || len(l.Items) != 0 || len(l.SplitBrain) != 0 || l.Violations() != 0 {
		t.Fatalf("clean run not all OK: %+v", l)
	}
}

func TestClassifyEachClass(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes
		check  func(l *ledger.Ledger) bool
		class  ledger.Class
	}{
		{"acked but missing is lost", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			*at = append(*at, attempt("d", load.OutcomeAcked))
			return st
		}, func(l *ledger.Ledger) bool { return l.Lost == 1 && l.OK == 3 }, ledger.Lost},
		{"stored twice across two regions is a duplicate", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			st[1].Writes = append(st[1].Writes, stored("a", "us-east", 2, 10))
			return st
		}, func(l *ledger.Ledger) bool { return l.Duplicates == 1 && l.OK == 2 }, ledger.Duplicate},
		{"stored twice in one store is a duplicate", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			st[0].Writes = append(st[0].Writes, stored("b", "eu-west", 1, 5))
			return st
		}, func(l *ledger.Ledger) bool { return l.Duplicates == 1 }, ledger.Duplicate},
		{"stored but never attempted is unexpected", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			st[0].Writes = append(st[0].Writes, stored("zzz", "eu-west", 1, 5))
			return st
		}, func(l *ledger.Ledger) bool { return l.Unexpected == 1 && l.OK == 3 }, ledger.Unexpected},
		{"unknown and absent is indeterminate", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			*at = append(*at, attempt("d", load.OutcomeIndeterminate))
			return st
		}, func(l *ledger.Ledger) bool { return l.Indeterminate == 1 && l.Violations() == 0 }, ledger.Indeterminate},
		{"unknown and applied once is fine but reported", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			*at = append(*at, attempt("d", load.OutcomeIndeterminate))
			st[0].Writes = append(st[0].Writes, stored("d", "eu-west", 1, 5))
			return st
		}, func(l *ledger.Ledger) bool { return l.IndeterminateApplied == 1 && l.Violations() == 0 }, ledger.IndeterminateApplied},
		{"refused and absent", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			*at = append(*at, attempt("d", load.OutcomeFailed))
			return st
		}, func(l *ledger.Ledger) bool { return l.FailedAbsent == 1 && l.Violations() == 0 }, ledger.FailedAbsent},
		{"refused yet applied", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			*at = append(*at, attempt("d", load.OutcomeFailed))
			st[0].Writes = append(st[0].Writes, stored("d", "eu-west", 1, 5))
			return st
		}, func(l *ledger.Ledger) bool { return l.FailedApplied == 1 && l.Violations() == 1 }, ledger.FailedApplied},
		{"body hash mismatch is corrupt", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			st[0].Writes[2].BodyHash = "other"
			return st
		}, func(l *ledger.Ledger) bool { return l.Corrupt == 1 && l.OK == 3 }, ledger.Corrupt},
		{"replica-only copy of an acked write is still lost", func(at *[]load.WriteAttempt, st []contract.Writes) []contract.Writes {
			st[0].Writes = st[0].Writes[1:] // "a" now only exists as a replica in us-east
			return st
		}, func(l *ledger.Ledger) bool { return l.Lost == 1 }, ledger.Lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, st := clean()
			st = tt.mutate(&at, st)
			l := ledger.Classify(at, st)
			if !tt.check(l) {
				t.Fatalf("counts wrong: %+v", l)
			}
			n := 0
			for _, it := range l.Items {
				if it.Class == tt.class {
					n++
					if it.Evidence == "" {
						t.Errorf("item %+v has no evidence", it)
					}
				}
			}
			if n != 1 {
				t.Fatalf("%d items of class %v, want 1: %+v", n, tt.class, l.Items)
			}
			sum := l.OK + l.Lost + l.Indeterminate + l.IndeterminateApplied + l.FailedAbsent + l.FailedApplied
			if tt.class != ledger.Unexpected {
				sum += l.Duplicates
			}
			if sum != l.Attempted {
				t.Errorf("classes add up to %d, attempted %d", sum, l.Attempted)
			}
		})
	}
}

func TestSplitBrain(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(st []contract.Writes)
		kind   ledger.SplitBrainKind
		want   []string
	}{
		{"direct write", func(st []contract.Writes) {
			st[0].Writes[1].Direct = true
		}, ledger.DirectWrite, []string{"eu-west"}},
		{"same epoch, two appliers", func(st []contract.Writes) {
			st[1].Writes = append(st[1].Writes, stored("x", "us-east", 1, 9))
		}, ledger.SharedEpoch, []string{"eu-west", "us-east"}},
		{"stale epoch after promotion", func(st []contract.Writes) {
			// us-east promoted to epoch 2 at t=10, then eu-west still applies with epoch 1.
			st[1].Writes = append(st[1].Writes, stored("x", "us-east", 2, 10))
			st[0].Writes = append(st[0].Writes, stored("y", "eu-west", 1, 11))
		}, ledger.StaleEpoch, []string{"eu-west", "us-east"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, st := clean()
			tt.mutate(st)
			l := ledger.Classify(at, st)
			if len(l.SplitBrain) != 1 {
				t.Fatalf("evidence %+v, want exactly one", l.SplitBrain)
			}
			ev := l.SplitBrain[0]
			if ev.Kind != tt.kind || len(ev.Regions) != len(tt.want) {
				t.Fatalf("evidence %+v, want kind %v regions %v", ev, tt.kind, tt.want)
			}
			for i := range tt.want {
				if ev.Regions[i] != tt.want[i] {
					t.Fatalf("regions %v, want %v", ev.Regions, tt.want)
				}
			}
			if l.Violations() == 0 {
				t.Error("split-brain evidence is not a violation")
			}
		})
	}
	// A clean promotion (eu-west at 1, then us-east at 2) is not split-brain.
	at, st := clean()
	st[1].Writes = append(st[1].Writes, stored("x", "us-east", 2, 10))
	if l := ledger.Classify(at, st); len(l.SplitBrain) != 0 {
		t.Fatalf("clean promotion reported as split-brain: %+v", l.SplitBrain)
	}
}

func TestReconcileWebhooks(t *testing.T) {
	applied := []contract.StoredWrite{stored("a", "eu-west", 1, 0), stored("b", "eu-west", 1, 1), stored("c", "eu-west", 1, 2)}
	replica := stored("a", "eu-west", 1, 0)
	replica.Replica = true
	applied = append(applied, replica)
	idOf := func(w contract.StoredWrite) string { return "wh-" + w.Key }
	allow := ledger.AllowRegions(map[string]bool{"us-east": true})
	d := func(id, region string) contract.Delivery {
		return contract.Delivery{ID: id, Region: region, KID: "k1", ReceivedAt: t0}
	}
	recv := func(x contract.Delivery, s int) contract.Delivery { // received s seconds after t0
		x.ReceivedAt = t0.Add(time.Duration(s) * time.Second)
		return x
	}
	at := func(x contract.Delivery, attempt string, replays int) contract.Delivery {
		x.Attempt, x.Replays = attempt, replays
		return x
	}
	tests := []struct {
		name       string
		deliveries []contract.Delivery
		want       ledger.WebhookCounts
	}{
		{"clean", []contract.Delivery{d("wh-a", "us-east"), d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3}},
		{"missing", []contract.Delivery{d("wh-a", "us-east"), d("wh-b", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 2, Missing: 1}},
		{"duplicate from the evacuated region", []contract.Delivery{d("wh-a", "us-east"), d("wh-a", "eu-west"), d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Duplicates: 1, FromDisallowedRegion: 1}},
		{"unexpected", []contract.Delivery{d("wh-a", "us-east"), d("wh-b", "us-east"), d("wh-c", "us-east"), d("wh-zz", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Unexpected: 1}},
		// An outsider re-sends a captured delivery: the sink counts it on
		// the record, or a sink listing every request lists it again with
		// the same attempt. Neither is a second delivery.
		{"replays counted by the sink", []contract.Delivery{at(d("wh-a", "us-east"), "a1", 3), d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Replays: 3}},
		{"replays listed as records", []contract.Delivery{at(d("wh-a", "us-east"), "a1", 0), at(d("wh-a", "us-east"), "a1", 0),
			at(d("wh-a", "us-east"), "a1", 1), d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Replays: 3}},
		// The system delivers one event twice: two attempts, a duplicate,
		// and its replay does not add another.
		{"two attempts are a duplicate", []contract.Delivery{at(d("wh-a", "us-east"), "a1", 0), at(d("wh-a", "us-east"), "a2", 0),
			at(d("wh-a", "us-east"), "a1", 0), d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Duplicates: 1, Replays: 1}},
		// us-east's first attempt reached the sink just as the drill cut
		// us-east off (t0+1s): the answer was lost and us-east sent it again
		// once healed. Not a duplicate; the same second attempt after a
		// first received outside the cut is one, and so is a copy from
		// another region during the cut.
		{"resent after the drill cut its answer", []contract.Delivery{recv(at(d("wh-a", "us-east"), "a1", 0), 1), recv(at(d("wh-a", "us-east"), "a2", 0), 30),
			d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Redeliveries: 1}},
		{"resent after a first outside the cut", []contract.Delivery{recv(at(d("wh-a", "us-east"), "a1", 0), 20), recv(at(d("wh-a", "us-east"), "a2", 0), 30),
			d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Duplicates: 1}},
		{"another region's copy during the cut", []contract.Delivery{recv(at(d("wh-a", "us-east"), "a1", 0), 1), recv(at(d("wh-a", "eu-west"), "a2", 0), 30),
			d("wh-b", "us-east"), d("wh-c", "us-east")},
			ledger.WebhookCounts{Expected: 3, Delivered: 3, Duplicates: 1, FromDisallowedRegion: 1}},
	}
	// us-east is cut off from the sink between t0+0.5s and t0+10s.
	cut := func(region string, when time.Time) bool {
		return region == "us-east" && !when.Before(t0.Add(500*time.Millisecond)) && when.Before(t0.Add(10*time.Second))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ledger.ReconcileWebhooks(applied, tt.deliveries, allow, cut, idOf)
			items := got.Items
			if !reflect.DeepEqual(got.WebhookCounts, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			problems := tt.want.Missing + tt.want.Unexpected + tt.want.Duplicates + tt.want.FromDisallowedRegion + tt.want.Replays + tt.want.Redeliveries
			if (problems == 0) != (len(items) == 0) {
				t.Fatalf("items %+v do not match counts", items)
			}
		})
	}
}

func TestDeliveryJSON(t *testing.T) {
	var d contract.Delivery
	err := json.Unmarshal([]byte(`{"id":"x","region":"us-east","kid":"k2","received_at":"2025-01-01T00:00:01Z"}`), &d)
	if err != nil || d.ID != "x" || d.Region != "us-east" || d.KID != "k2" || !d.ReceivedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("delivery %+v err %v", d, err)
	}
}

// An acknowledged write that is still in a queue when the stores are read is
// not known to be lost (indeterminate); one the system set aside as a dead
// letter is lost, and the evidence says where and why.
func TestQueuedAndDeadLetteredWrites(t *testing.T) {
	attempts := []load.WriteAttempt{
		{Key: "q", Outcome: load.OutcomeAcked, AckedBy: "eu", Attempts: 1},
		{Key: "d", Outcome: load.OutcomeAcked, AckedBy: "eu", Attempts: 1},
		{Key: "gone", Outcome: load.OutcomeAcked, AckedBy: "eu", Attempts: 1},
	}
	stores := []contract.Writes{
		{Region: "eu", Writes: []contract.StoredWrite{}, Queued: []string{"q"}},
		{Region: "us", Writes: []contract.StoredWrite{}, Dead: []contract.DeadWrite{{Key: "d", Reason: "undecodable"}}},
	}
	l := ledger.Classify(attempts, stores)
	if l.Lost != 2 || l.Indeterminate != 1 {
		t.Fatalf("lost %d indeterminate %d, want 2 and 1: %+v", l.Lost, l.Indeterminate, l.Items)
	}
	for _, it := range l.Items {
		switch it.Key {
		case "q":
			if it.Class != ledger.Indeterminate || !strings.Contains(it.Evidence, "still queued in eu") {
				t.Errorf("queued write: %+v", it)
			}
		case "d":
			if it.Class != ledger.Lost || !strings.Contains(it.Evidence, "dead letter by us: undecodable") {
				t.Errorf("dead letter: %+v", it)
			}
		}
	}
}
