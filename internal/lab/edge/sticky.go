package edge

import (
	"sync"
	"time"
)

// stick pins a session to a backend until expires (sliding).
type stick struct {
	b       *backend
	expires time.Time
}

// sessions is the stick table.
type sessions struct {
	mu sync.Mutex
	m  map[string]stick
}

// get returns the live pin of id, if any.
func (s *sessions) get(id string, now time.Time) *backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[id]
	if !ok || !now.Before(st.expires) {
		return nil
	}
	return st.b
}

// put pins id to b for ttl from now.
func (s *sessions) put(id string, b *backend, now time.Time, ttl time.Duration) {
	s.mu.Lock()
	s.m[id] = stick{b: b, expires: now.Add(ttl)}
	s.mu.Unlock()
}

// sweep drops expired pins.
func (s *sessions) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, st := range s.m {
		if !now.Before(st.expires) {
			delete(s.m, id)
		}
	}
}
