package adapter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HAProxy routes through an HAProxy backend, one server per region, changed
// over the Runtime API (the "stats socket ... level admin"). Each command is
// its own connection: HAProxy closes it after one command outside
// interactive mode. Its drill lock is an entry in a map of HAProxy's
// configuration (lock.go).
type HAProxy struct {
	Addr    string            // Runtime API: "unix:/path/to/admin.sock" or "host:port"
	Backend string            // backend holding the regions' servers
	Servers map[string]string // region → server name; a region not listed uses its own name
	Timeout time.Duration     // per command; default 3s
	LockMap string            // map holding the drill lock, as "show map" names it; "" = no lock
}

// AdminState is a server's administrative state as the Runtime API sets it.
type AdminState string

// The admin states regiondrill reads and sets.
const (
	AdminReady AdminState = "ready" // takes traffic in proportion to its weight
	AdminDrain AdminState = "drain" // no new traffic, existing connections finish
	AdminMaint AdminState = "maint" // out of service
)

// ServerState is one server as "show servers state" reports it.
type ServerState struct {
	Server    string     `json:"server"`
	Weight    int        `json:"weight"`     // user weight (srv_uweight)
	Admin     AdminState `json:"admin"`      // derived from AdminBits
	AdminBits int        `json:"admin_bits"` // srv_admin_state, HAProxy's flag set
	OpState   int        `json:"op_state"`   // srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
}

// maxHAProxyWeight is the Runtime API's upper bound for a weight.
const maxHAProxyWeight = 256

// HAProxyError is an answer of the Runtime API that reports a failure.
type HAProxyError struct {
	Command string
	Answer  string
}

func (e *HAProxyError) Error() string {
	return fmt.Sprintf("haproxy runtime api: %q: %s", e.Command, e.Answer)
}

func (h *HAProxy) server(region string) string {
	if s, ok := h.Servers[region]; ok && s != "" {
		return s
	}
	return region
}

// regions lists the regions this router knows: the keys of Servers, or, when
// Servers is empty, every server of the backend named after itself.
func (h *HAProxy) regions(states map[string]ServerState) []string {
	var out []string
	if len(h.Servers) > 0 {
		for r := range h.Servers {
			out = append(out, r)
		}
	} else {
		for s := range states {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Command sends one Runtime API command and returns its answer.
func (h *HAProxy) Command(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\n\r;") {
		return "", fmt.Errorf("haproxy runtime api: command %q: newlines and ';' are not allowed", cmd)
	}
	network, addr := "tcp", h.Addr
	if p, ok := strings.CutPrefix(h.Addr, "unix:"); ok {
		network, addr = "unix", p
	}
	if addr == "" {
		return "", errors.New("haproxy runtime api: no address")
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime api %s: %w", h.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("haproxy runtime api %s: send %q: %w", h.Addr, cmd, err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, 4<<20))
	if err != nil {
		return "", fmt.Errorf("haproxy runtime api %s: read answer to %q: %w", h.Addr, cmd, err)
	}
	return string(b), nil
}

// set sends a command that answers nothing on success.
func (h *HAProxy) set(ctx context.Context, cmd string) error {
	out, err := h.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(out); s != "" {
		return &HAProxyError{Command: cmd, Answer: s}
	}
	return nil
}

// ServerStates reads every server of the backend, by server name.
func (h *HAProxy) ServerStates(ctx context.Context) (map[string]ServerState, error) {
	cmd := "show servers state " + h.Backend
	out, err := h.Command(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return parseServersState(cmd, out)
}

// parseServersState reads the answer of "show servers state": a version
// line, a "# " header naming the columns, then one line per server.
func parseServersState(cmd, out string) (map[string]ServerState, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	var cols map[string]int
	states := map[string]ServerState{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "# "):
			cols = map[string]int{}
			for i, c := range strings.Fields(line[2:]) {
				cols[c] = i
			}
			continue
		case cols == nil:
			if _, err := strconv.Atoi(line); err == nil { // format version
				continue
			}
			return nil, &HAProxyError{Command: cmd, Answer: line}
		}
		f := strings.Fields(line)
		get := func(name string) (string, error) {
			i, ok := cols[name]
			if !ok || i >= len(f) {
				return "", fmt.Errorf("haproxy runtime api: %q: no column %s in %q", cmd, name, line)
			}
			return f[i], nil
		}
		num := func(name string) (int, error) {
			s, err := get(name)
			if err != nil {
				return 0, err
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return 0, fmt.Errorf("haproxy runtime api: %q: column %s: %w", cmd, name, err)
			}
			return n, nil
		}
		name, err := get("srv_name")
		if err != nil {
			return nil, err
		}
		var st ServerState
		st.Server = name
		if st.Weight, err = num("srv_uweight"); err != nil {
			return nil, err
		}
		if st.AdminBits, err = num("srv_admin_state"); err != nil {
			return nil, err
		}
		if st.OpState, err = num("srv_op_state"); err != nil {
			return nil, err
		}
		st.Admin = adminState(st.AdminBits)
		states[name] = st
	}
	if cols == nil {
		return nil, &HAProxyError{Command: cmd, Answer: strings.TrimSpace(out)}
	}
	return states, nil
}

// HAProxy's server admin flags (SRV_ADMF_*).
const (
	admfMaint = 0x01 | 0x02 | 0x04 | 0x20 | 0x40 // forced, inherited, config, resolution, hostname maintenance
	admfDrain = 0x08 | 0x10                      // forced, inherited drain
)

func adminState(bits int) AdminState {
	switch {
	case bits&admfMaint != 0:
		return AdminMaint
	case bits&admfDrain != 0:
		return AdminDrain
	}
	return AdminReady
}

// State reads each region's server: weight and admin state. Comparing it
// before and after a drill shows whether HAProxy was left as found.
func (h *HAProxy) State(ctx context.Context) (map[string]ServerState, error) {
	all, err := h.ServerStates(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]ServerState{}
	for _, r := range h.regions(all) {
		st, ok := all[h.server(r)]
		if !ok {
			return nil, fmt.Errorf("haproxy: backend %s has no server %s (region %s)", h.Backend, h.server(r), r)
		}
		out[r] = st
	}
	return out, nil
}

// Weights reads each region's effective weight: its user weight, or 0 when
// the server is drained or in maintenance.
func (h *HAProxy) Weights(ctx context.Context) (map[string]int, error) {
	st, err := h.State(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(st))
	for r, s := range st {
		if s.Admin == AdminReady {
			out[r] = s.Weight
		} else {
			out[r] = 0
		}
	}
	return out, nil
}

// SetWeights sets the given regions' weights; regions not named keep theirs.
// Weight 0 also drains the server, a weight above 0 makes it ready. A change
// that would leave no server with weight > 0, an unknown region or a weight
// outside 0..256 is refused before any command is sent. Raises are sent
// before cuts so traffic always has somewhere to go.
func (h *HAProxy) SetWeights(ctx context.Context, w map[string]int) error {
	cur, err := h.Weights(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for r, v := range w {
		if _, ok := cur[r]; !ok {
			errs = append(errs, fmt.Errorf("haproxy: unknown region %q", r))
		}
		if v < 0 || v > maxHAProxyWeight {
			errs = append(errs, fmt.Errorf("haproxy: region %q: weight %d outside 0..%d", r, v, maxHAProxyWeight))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	names, err := weightOrder(cur, w)
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	for _, r := range names {
		sv := h.Backend + "/" + h.server(r)
		v := w[r]
		cmds := []string{fmt.Sprintf("set weight %s %d", sv, v), "set server " + sv + " state ready"}
		if v == 0 {
			cmds = []string{"set server " + sv + " state drain", fmt.Sprintf("set weight %s 0", sv)}
		}
		for _, c := range cmds {
			if err := h.set(ctx, c); err != nil {
				return fmt.Errorf("haproxy: set %s to %d: %w", r, v, err)
			}
		}
	}
	return nil
}

// Describe says which Runtime API and backend the weights are set through.
func (h *HAProxy) Describe() string {
	return fmt.Sprintf("the HAProxy Runtime API at %s (set weight / set server state on backend %s)", h.Addr, h.Backend)
}

var (
	_ Router    = (*HAProxy)(nil)
	_ Describer = (*HAProxy)(nil)
)

// weightOrder checks that applying w over cur leaves some region with
// weight, and orders w's regions so raises are sent before cuts (by name
// within each): traffic always has somewhere to go mid-change.
func weightOrder(cur, w map[string]int) ([]string, error) {
	serving := false
	for r, v := range cur {
		if nv, ok := w[r]; ok {
			v = nv
		}
		serving = serving || v > 0
	}
	for r, v := range w {
		if _, ok := cur[r]; !ok {
			serving = serving || v > 0
		}
	}
	if !serving {
		return nil, ErrNoServingRegion
	}
	names := make([]string, 0, len(w))
	for r := range w {
		names = append(names, r)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := w[names[i]] > 0, w[names[j]] > 0
		if ri != rj {
			return ri
		}
		return names[i] < names[j]
	})
	return names, nil
}
