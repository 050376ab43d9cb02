package edge

import (
	"errors"
	"testing"
	"time"
)

func TestDrillLockRefusesASecondOwnerUntilTheLeaseEnds(t *testing.T) {
	now := time.Unix(1000, 0)
	r := &Router{cfg: Config{Clock: func() time.Time { return now }}}
	if _, err := r.Lock("drill-1", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if h, err := r.Lock("drill-2", 10*time.Second); !errors.Is(err, ErrLocked) || h.Owner != "drill-1" {
		t.Fatalf("second drill got the lock: %v %+v", err, h)
	}
	if _, err := r.Lock("drill-1", 10*time.Second); err != nil {
		t.Fatalf("owner could not renew: %v", err)
	}
	if err := r.Unlock("drill-2"); !errors.Is(err, ErrLocked) {
		t.Fatalf("another owner released the lock: %v", err)
	}
	now = now.Add(11 * time.Second) // the owner vanished: the lease frees the lock
	if _, err := r.Lock("drill-2", 10*time.Second); err != nil {
		t.Fatalf("expired lock still held: %v", err)
	}
	if err := r.Unlock("drill-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock("drill-3", time.Second); err != nil {
		t.Fatalf("released lock still held: %v", err)
	}
}
