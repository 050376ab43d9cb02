package adapter

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNoLock means the router has no drill lock and the plan did not waive
// it: a drill (or a rollback) could run under another one.
var ErrNoLock = errors.New("the router has no drill lock")

// NoLock is the explicit waiver of a router's drill lock (the plan's
// targets.router.no_lock): it locks nothing and says so.
type NoLock struct{ Router }

// Lock takes nothing: the plan waived the lock.
func (NoLock) Lock(context.Context, string, time.Duration) error { return nil }

// Unlock releases nothing.
func (NoLock) Unlock(context.Context, string) error { return nil }

// Describe says where the weights are set, and that nothing is locked.
func (n NoLock) Describe() string {
	if d, ok := n.Router.(Describer); ok {
		return d.Describe() + " (drill lock waived)"
	}
	return "a router without a description (drill lock waived)"
}

var (
	_ Locker    = NoLock{}
	_ Describer = NoLock{}
)

// The HAProxy drill lock lives in a map declared in HAProxy's configuration
// (LockMap), under the key lockKey. Every contender adds its own entry with
// "add map" and the lock belongs to the oldest entry whose lease has not
// expired: HAProxy runs Runtime API commands one at a time and keeps a
// map's entries in the order they were added, so two drills that add at
// once still agree on one holder, which a read-then-set could not promise.
// The value is "<expiry unix ms>:<base64url owner>" (no spaces: the Runtime
// API splits arguments on them).
const lockKey = "regiondrill-drill-lock"

type mapLock struct {
	ref     string // "#0x..." reference of the entry
	owner   string
	expires time.Time
}

func (h *HAProxy) readLocks(ctx context.Context) ([]mapLock, error) {
	cmd := "show map " + h.LockMap
	out, err := h.Command(ctx, cmd)
	if err != nil {
		return nil, err
	}
	var locks []mapLock
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || !strings.HasPrefix(f[0], "0x") {
			return nil, &HAProxyError{Command: cmd, Answer: strings.TrimSpace(out)}
		}
		if f[1] != lockKey {
			continue
		}
		l := mapLock{ref: "#" + f[0]}
		ms, enc, ok := strings.Cut(f[2], ":")
		n, err := strconv.ParseInt(ms, 10, 64)
		b, berr := base64.RawURLEncoding.DecodeString(enc)
		if ok && err == nil && berr == nil {
			l.owner, l.expires = string(b), time.UnixMilli(n)
		} // else: an unreadable entry counts as expired and is removed
		locks = append(locks, l)
	}
	return locks, nil
}

func lockValue(owner string, expires time.Time) string {
	return strconv.FormatInt(expires.UnixMilli(), 10) + ":" + base64.RawURLEncoding.EncodeToString([]byte(owner))
}

// holder drops expired entries and returns the live ones, oldest first.
func (h *HAProxy) liveLocks(ctx context.Context, now time.Time) ([]mapLock, error) {
	locks, err := h.readLocks(ctx)
	if err != nil {
		return nil, err
	}
	var live []mapLock
	for _, l := range locks {
		if now.Before(l.expires) {
			live = append(live, l)
			continue
		}
		if err := h.set(ctx, "del map "+h.LockMap+" "+l.ref); err != nil && !notFound(err) {
			return nil, err
		}
	}
	return live, nil
}

func notFound(err error) bool {
	var he *HAProxyError
	return errors.As(err, &he) && strings.Contains(he.Answer, "not found")
}

// Lock takes or renews the drill lock in LockMap for owner.
func (h *HAProxy) Lock(ctx context.Context, owner string, lease time.Duration) error {
	if h.LockMap == "" {
		return fmt.Errorf("haproxy: %w: name a map declared in HAProxy's configuration (targets.router.lock_map) or waive the lock (no_lock)", ErrNoLock)
	}
	if strings.ContainsAny(h.LockMap, " \t") {
		return fmt.Errorf("haproxy: lock map %q: spaces are not allowed", h.LockMap)
	}
	now := time.Now()
	value := lockValue(owner, now.Add(lease))
	live, err := h.liveLocks(ctx, now)
	if err != nil {
		return fmt.Errorf("haproxy lock: %w", err)
	}
	if len(live) > 0 && live[0].owner != owner {
		return &LockedError{Owner: live[0].owner, Until: live[0].expires}
	}
	if len(live) > 0 { // renewal: the entry keeps its place
		return h.set(ctx, "set map "+h.LockMap+" "+live[0].ref+" "+value)
	}
	if err := h.set(ctx, "add map "+h.LockMap+" "+lockKey+" "+value); err != nil {
		return fmt.Errorf("haproxy lock: %w", err)
	}
	if live, err = h.liveLocks(ctx, now); err != nil {
		return fmt.Errorf("haproxy lock: %w", err)
	}
	if len(live) > 0 && live[0].owner == owner {
		return nil
	}
	// Another drill added its entry first: withdraw ours.
	_ = h.Unlock(ctx, owner)
	if len(live) == 0 {
		return fmt.Errorf("haproxy lock: the entry added to %s is gone", h.LockMap)
	}
	return &LockedError{Owner: live[0].owner, Until: live[0].expires}
}

// Unlock removes owner's entries from LockMap.
func (h *HAProxy) Unlock(ctx context.Context, owner string) error {
	if h.LockMap == "" {
		return nil
	}
	locks, err := h.readLocks(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range locks {
		if l.owner == owner {
			if err := h.set(ctx, "del map "+h.LockMap+" "+l.ref); err != nil && !notFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

var _ Locker = (*HAProxy)(nil)

// Lock runs the plan's lock command for owner: exit 0 means the lock is
// held (taken or renewed), any other exit that another drill holds it; the
// command's output names the holder.
func (c *Command) Lock(ctx context.Context, owner string, lease time.Duration) error {
	if len(c.LockArgv) == 0 {
		return fmt.Errorf("command: %w: give targets.router.lock or waive the lock (no_lock)", ErrNoLock)
	}
	_, err := c.run(ctx, expand(c.LockArgv, map[string]string{"{owner}": owner, "{lease_s}": strconv.Itoa(int(lease.Seconds()))}))
	var ce *CommandError
	if errors.As(err, &ce) && ce.Exited() {
		return &LockedError{Detail: ce.Stderr}
	}
	return err
}

// Unlock runs the plan's unlock command for owner, if any.
func (c *Command) Unlock(ctx context.Context, owner string) error {
	if len(c.UnlockArgv) == 0 {
		return nil
	}
	_, err := c.run(ctx, expand(c.UnlockArgv, map[string]string{"{owner}": owner}))
	return err
}

var _ Locker = (*Command)(nil)

func expand(argv []string, vars map[string]string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		for k, v := range vars {
			a = strings.ReplaceAll(a, k, v)
		}
		out[i] = a
	}
	return out
}
