// Package ledger classifies the writes of a drill, Jepsen style: what the
// client was told (acked, refused, unknown) against what every region's store
// holds. Nothing is dropped: every key that is not plainly OK becomes an Item.
package ledger

import (
	"fmt"
	"slices"
	"sort"

	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/load"
)

// Class is the verdict on one key.
type Class uint8

const (
	OK                   Class = iota // acked and stored exactly once
	Lost                              // acked, stored nowhere
	Duplicate                         // stored more than once (acked or not)
	Unexpected                        // stored, never attempted by this client
	Indeterminate                     // outcome unknown to the client, stored nowhere
	IndeterminateApplied              // outcome unknown to the client, stored once
	FailedAbsent                      // definitely refused, stored nowhere
	FailedApplied                     // definitely refused, yet stored
	Corrupt                           // stored body hash differs from the body sent (reported on top of the key's class)
	numClasses
)

var classNames = [...]string{"ok", "lost", "duplicate", "unexpected", "indeterminate", "indeterminate_applied", "failed_absent", "failed_applied", "corrupt"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// MarshalText writes the class name.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a class name.
func (c *Class) UnmarshalText(b []byte) error {
	for i, n := range classNames {
		if n == string(b) {
			*c = Class(i)
			return nil
		}
	}
	return fmt.Errorf("ledger: unknown class %q", b)
}

// Violation reports whether the class breaks the write contract. Unknown
// outcomes and refusals that were not applied are allowed.
func (c Class) Violation() bool {
	switch c {
	case Lost, Duplicate, Unexpected, FailedApplied, Corrupt:
		return true
	}
	return false
}

// Item is one key that is not plainly OK.
type Item struct {
	Key      string       `json:"key"`
	Class    Class        `json:"class"`
	Outcome  load.Outcome `json:"outcome,omitempty"` // what the client was told; unsent for unexpected keys
	AckedBy  string       `json:"acked_by,omitempty"`
	Found    []string     `json:"found,omitempty"` // store regions holding the key, one entry per record
	Evidence string       `json:"evidence"`
}

// Counts are a run's writes by class: Attempted = OK + Lost +
// Duplicates(attempted) + Indeterminate + IndeterminateApplied +
// FailedAbsent + FailedApplied; Unexpected keys and Corrupt records are
// counted besides. The verdict reports them as they are (verdict.Ledger).
type Counts struct {
	Attempted            int `json:"attempted"`
	Acknowledged         int `json:"acknowledged"`
	OK                   int `json:"ok"`
	Lost                 int `json:"lost"`
	Duplicates           int `json:"duplicates"`
	Unexpected           int `json:"unexpected"`
	Indeterminate        int `json:"indeterminate"`
	IndeterminateApplied int `json:"indeterminate_applied"`
	FailedAbsent         int `json:"failed_absent"`
	FailedApplied        int `json:"failed_applied"`
	Corrupt              int `json:"corrupt"`
}

// Ledger is the classification of a run's writes: the counts, each key's
// class with its evidence, and split-brain evidence.
type Ledger struct {
	Counts
	Items      []Item               `json:"items"`
	SplitBrain []SplitBrainEvidence `json:"split_brain"`
}

// Violations counts the items that break the contract, plus split-brain
// evidence.
func (l *Ledger) Violations() int {
	n := len(l.SplitBrain)
	for _, it := range l.Items {
		if it.Class.Violation() {
			n++
		}
	}
	return n
}

type located struct {
	store string
	w     *contract.StoredWrite // into the caller's stores, never changed
}

// Classify matches the client's writes against all regions' stores by key.
// Records marked Replica are copies and are ignored for counting.
func Classify(attempts []load.WriteAttempt, stores []contract.Writes) *Ledger {
	n := 0
	for _, s := range stores {
		for i := range s.Writes {
			if !s.Writes[i].Replica {
				n++
			}
		}
	}
	// Every applied record once, and per key a chain through them (newest
	// first), so a lookup allocates nothing.
	all := make([]located, 0, n)
	next := make([]int32, 0, n)
	head := make(map[string]int32, n)
	for _, s := range stores {
		for i := range s.Writes {
			w := &s.Writes[i]
			if w.Replica {
				continue
			}
			h, ok := head[w.Key]
			if !ok {
				h = -1
			}
			head[w.Key] = int32(len(all))
			next = append(next, h)
			all = append(all, located{store: s.Region, w: w})
		}
	}
	queued, dead := map[string]string{}, map[string]contract.DeadWrite{}
	for _, s := range stores {
		for _, k := range s.Queued {
			queued[k] = s.Region
		}
		for _, d := range s.Dead {
			d.Reason = s.Region + ": " + d.Reason
			dead[d.Key] = d
		}
	}
	var scratch []located
	find := func(key string) []located {
		scratch = scratch[:0]
		if h, ok := head[key]; ok {
			for i := h; i >= 0; i = next[i] {
				scratch = append(scratch, all[i])
			}
			slices.Reverse(scratch) // store order
		}
		return scratch
	}
	l := &Ledger{}
	attempted := make(map[string]bool, len(attempts))
	for _, a := range attempts {
		if a.Outcome == load.OutcomeUnsent || attempted[a.Key] {
			continue
		}
		attempted[a.Key] = true
		l.Attempted++
		if a.Outcome == load.OutcomeAcked {
			l.Acknowledged++
		}
		locs := find(a.Key)
		c := classOf(a.Outcome, len(locs))
		ev := evidence(c, a, locs)
		if len(locs) == 0 {
			// Not applied anywhere yet: a write still in a queue is not known
			// to be lost; a dead letter was set aside, not silently dropped.
			if d, ok := dead[a.Key]; ok {
				ev = fmt.Sprintf("%s; set aside as a dead letter by %s", ev, d.Reason)
			} else if r, ok := queued[a.Key]; ok {
				c, ev = Indeterminate, fmt.Sprintf("%s, still queued in %s when the stores were read", a.Outcome, r)
			}
		}
		l.count(c)
		if c != OK {
			l.Items = append(l.Items, Item{Key: a.Key, Class: c, Outcome: a.Outcome, AckedBy: a.AckedBy, Found: storesOf(locs), Evidence: ev})
		}
		var bad []string
		for _, loc := range locs {
			if loc.w.BodyHash != a.BodyHash {
				bad = append(bad, fmt.Sprintf("%s has %s", loc.store, loc.w.BodyHash))
			}
		}
		if len(bad) > 0 {
			l.Corrupt++
			l.Items = append(l.Items, Item{Key: a.Key, Class: Corrupt, Outcome: a.Outcome, AckedBy: a.AckedBy, Found: storesOf(locs),
				Evidence: fmt.Sprintf("sent body %s; %v", a.BodyHash, bad)})
		}
	}
	var keys []string
	for k := range head {
		if !attempted[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		locs := find(k)
		l.Unexpected++
		l.Items = append(l.Items, Item{Key: k, Class: Unexpected, Found: storesOf(locs),
			Evidence: fmt.Sprintf("stored %d time(s), never sent by this client", len(locs))})
		if len(locs) > 1 {
			l.Duplicates++
			l.Items = append(l.Items, Item{Key: k, Class: Duplicate, Found: storesOf(locs), Evidence: fmt.Sprintf("stored %d times", len(locs))})
		}
	}
	l.SplitBrain = splitBrain(all)
	return l
}

func classOf(o load.Outcome, n int) Class {
	switch {
	case n > 1:
		return Duplicate
	case o == load.OutcomeAcked && n == 1:
		return OK
	case o == load.OutcomeAcked:
		return Lost
	case o == load.OutcomeIndeterminate && n == 1:
		return IndeterminateApplied
	case o == load.OutcomeIndeterminate:
		return Indeterminate
	case n == 1:
		return FailedApplied
	}
	return FailedAbsent
}

func (l *Ledger) count(c Class) {
	switch c {
	case OK:
		l.OK++
	case Lost:
		l.Lost++
	case Duplicate:
		l.Duplicates++
	case Indeterminate:
		l.Indeterminate++
	case IndeterminateApplied:
		l.IndeterminateApplied++
	case FailedAbsent:
		l.FailedAbsent++
	case FailedApplied:
		l.FailedApplied++
	}
}

func storesOf(locs []located) []string {
	out := make([]string, 0, len(locs))
	for _, l := range locs {
		out = append(out, l.store)
	}
	return out
}

func evidence(c Class, a load.WriteAttempt, locs []located) string {
	switch c {
	case Lost:
		return fmt.Sprintf("acked by %s after %d attempt(s), in no store", a.AckedBy, a.Attempts)
	case Duplicate:
		var by []string
		for _, l := range locs {
			by = append(by, fmt.Sprintf("%s (applied by %s, epoch %d)", l.store, l.w.AppliedBy, l.w.Epoch))
		}
		return fmt.Sprintf("%s; stored %d times: %v", a.Outcome, len(locs), by)
	case Indeterminate:
		return fmt.Sprintf("%d attempt(s), outcome unknown, in no store", a.Attempts)
	case IndeterminateApplied:
		return fmt.Sprintf("%d attempt(s), outcome unknown, applied by %s", a.Attempts, locs[0].w.AppliedBy)
	case FailedAbsent:
		return fmt.Sprintf("refused on all %d attempt(s), in no store", a.Attempts)
	case FailedApplied:
		return fmt.Sprintf("refused on all %d attempt(s), yet applied by %s", a.Attempts, locs[0].w.AppliedBy)
	}
	return ""
}

// SplitBrainKind is the kind of evidence that two writers were active.
type SplitBrainKind uint8

const (
	DirectWrite SplitBrainKind = iota // a record written without the queue
	SharedEpoch                       // two regions applied under the same epoch
	StaleEpoch                        // a region applied under an epoch lower than one another region had already used
)

var sbNames = [...]string{"direct_write", "shared_epoch", "stale_epoch"}

func (k SplitBrainKind) String() string {
	if int(k) < len(sbNames) {
		return sbNames[k]
	}
	return fmt.Sprintf("splitbrain(%d)", uint8(k))
}

// MarshalText writes the kind name.
func (k SplitBrainKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// SplitBrainEvidence is one observation; Count is how many records show it,
// Key the first of them.
type SplitBrainEvidence struct {
	Kind       SplitBrainKind `json:"kind"`
	Key        string         `json:"key"`
	Regions    []string       `json:"regions"` // applying regions involved
	Epoch      uint64         `json:"epoch"`
	OtherEpoch uint64         `json:"other_epoch,omitempty"` // the higher epoch seen earlier (stale_epoch)
	Count      int            `json:"count"`
}

func splitBrain(all []located) []SplitBrainEvidence {
	var out []SplitBrainEvidence
	direct := map[string]int{} // applier -> index in out
	for _, l := range all {
		if !l.w.Direct {
			continue
		}
		if i, ok := direct[l.w.AppliedBy]; ok {
			out[i].Count++
			continue
		}
		direct[l.w.AppliedBy] = len(out)
		out = append(out, SplitBrainEvidence{Kind: DirectWrite, Key: l.w.Key, Regions: []string{l.w.AppliedBy}, Epoch: l.w.Epoch, Count: 1})
	}

	byEpoch := map[uint64]map[string]int{}
	firstKey := map[uint64]string{}
	for _, l := range all {
		m := byEpoch[l.w.Epoch]
		if m == nil {
			m = map[string]int{}
			byEpoch[l.w.Epoch] = m
			firstKey[l.w.Epoch] = l.w.Key
		}
		m[l.w.AppliedBy]++
	}
	epochs := make([]uint64, 0, len(byEpoch))
	for e := range byEpoch {
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	for _, e := range epochs {
		if m := byEpoch[e]; len(m) > 1 {
			ev := SplitBrainEvidence{Kind: SharedEpoch, Key: firstKey[e], Epoch: e}
			for r, n := range m {
				ev.Regions = append(ev.Regions, r)
				ev.Count += n
			}
			sort.Strings(ev.Regions)
			out = append(out, ev)
		}
	}

	sorted := slices.Clone(all)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].w.AppliedAt.Before(sorted[j].w.AppliedAt) })
	maxBy := map[string]uint64{} // applier -> highest epoch applied so far
	type pair struct {
		region string
		epoch  uint64
	}
	stale := map[pair]int{}
	for i := 0; i < len(sorted); {
		// records applied at the same instant are judged against earlier ones only
		j := i
		for j < len(sorted) && sorted[j].w.AppliedAt.Equal(sorted[i].w.AppliedAt) {
			w := sorted[j].w
			var other string
			var hi uint64
			for r, e := range maxBy {
				if r != w.AppliedBy && e > w.Epoch && (e > hi || e == hi && r < other) {
					other, hi = r, e
				}
			}
			if other != "" {
				p := pair{w.AppliedBy, w.Epoch}
				if k, ok := stale[p]; ok {
					out[k].Count++
				} else {
					stale[p] = len(out)
					out = append(out, SplitBrainEvidence{Kind: StaleEpoch, Key: w.Key, Regions: []string{w.AppliedBy, other}, Epoch: w.Epoch, OtherEpoch: hi, Count: 1})
				}
			}
			j++
		}
		for ; i < j; i++ {
			w := sorted[i].w
			maxBy[w.AppliedBy] = max(maxBy[w.AppliedBy], w.Epoch)
		}
	}
	return out
}
