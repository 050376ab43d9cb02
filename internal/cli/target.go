package cli

import (
	"bytes"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/contract"
	"io"
	"os"
	"strings"

	"github.com/regiondrill/regiondrill/internal/adapter"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// planTarget builds the target a plan names: its regions, the router it
// names (lab edge, HAProxy, command; its lock or the plan's waiver) and its
// queue source. run and rollback both build it here, so rollback reaches
// exactly the endpoints of the run's own plan.
func planTarget(p *plan.Plan) (*adapter.HTTP, string, error) {
	ep, err := targetEndpoints(p)
	if err != nil {
		return nil, "", err
	}
	tgt, label := adapter.New(ep), ep.Edge
	switch q := p.Targets.Queue; q.Kind {
	case "jetstream":
		creds, err := natsCredentials("$.targets.queue", q.NATSAuth)
		if err != nil {
			return nil, "", err
		}
		tgt = tgt.WithBacklog(&adapter.JetStreamBacklog{URL: q.NATSURL, Streams: q.Streams, Consumer: q.Consumer, Options: creds.Options()})
	case "prometheus":
		tgt = tgt.WithBacklog(&adapter.PrometheusBacklog{URL: p.Targets.Prometheus.URL, Query: q.Query})
	}
	if r := planRouter(p); r != nil {
		tgt, label = tgt.WithRouter(r), string(p.Targets.Router.Kind)+" "+p.Targets.Router.Address+p.Targets.Router.Socket
	}
	return tgt, label, nil
}

// planRouter is the router adapter a plan names (nil: the lab edge's API),
// wrapped in the explicit waiver when the plan runs it without a lock.
func planRouter(p *plan.Plan) adapter.Router {
	r := p.Targets.Router
	var out adapter.Router
	switch r.Kind {
	case plan.RouterHAProxy:
		addr := r.Address
		if r.Socket != "" {
			addr = "unix:" + r.Socket
		}
		out = &adapter.HAProxy{Addr: addr, Backend: r.Backend, LockMap: r.LockMap}
	case plan.RouterCommand:
		out = &adapter.Command{Set: r.SetWeight, Get: r.GetWeights, LockArgv: r.Lock, UnlockArgv: r.Unlock}
	default:
		return nil
	}
	if r.NoLock {
		return adapter.NoLock{Router: out}
	}
	return out
}

// targetEndpoints builds the endpoints of a plan's real targets, with the
// token written in the plan or else the one in its token_env (needToken
// says when there is none). The edge address is only used with the lab
// router.
func targetEndpoints(p *plan.Plan) (adapter.Endpoints, error) {
	t := p.Targets
	edge := strings.TrimSuffix(t.Entry, "/") // the load goes here
	if edge == "" {
		edge = "http://" + t.Router.Address
	}
	ep := adapter.Endpoints{Edge: edge, Faults: strings.TrimSuffix(strings.TrimSuffix(t.Faults, "/"), "/faults"),
		Sink: strings.TrimSuffix(strings.TrimSuffix(t.Sink, "/"), "/deliveries"), Regions: map[string]string{}, Proxies: map[string][]string{}}
	for _, r := range p.Regions {
		rt := t.Regions[r]
		ep.Regions[r] = strings.TrimSuffix(rt.BaseURL, "/")
		if ep.Token == "" {
			ep.Token = rt.Token
		}
		// The fault service names its proxies after the region and its egress routes.
		ep.Proxies[r] = contract.ProxyNames(r, p.Regions)
	}
	if ep.Token == "" {
		ep.Token = os.Getenv(t.TokenEnv)
	}
	return ep, nil
}

// needToken says what is missing when a plan's target has no admin token.
func needToken(p *plan.Plan, tgt *adapter.HTTP) error {
	if tgt.Endpoints().Token != "" {
		return nil
	}
	return fmt.Errorf("$.targets: no admin token: set a region's token or the %s environment variable", p.Targets.TokenEnv)
}

// planSecrets are the secrets a plan brings: the tokens written in it and
// the NATS passwords its credentials read from the environment.
func planSecrets(p *plan.Plan) []string {
	auths := []plan.NATSAuth{p.Lab.NATSAuth}
	var out []string
	if p.Targets != nil {
		for _, rt := range p.Targets.Regions {
			if rt.Token != "" {
				out = append(out, rt.Token)
			}
		}
		auths = append(auths, p.Targets.Queue.NATSAuth)
	}
	for _, a := range auths {
		if c, err := natsCredentials("", a); err == nil && c.Password != "" {
			out = append(out, c.Password)
		}
	}
	return out
}

// withoutSecrets is a copy of the plan without the tokens written in it:
// what the journal keeps (rollback takes the token from the environment).
func withoutSecrets(p *plan.Plan) *plan.Plan {
	if p.Targets == nil {
		return p
	}
	c, t := *p, *p.Targets
	t.Regions = map[string]plan.RegionTarget{}
	for r, rt := range p.Targets.Regions {
		rt.Token = ""
		t.Regions[r] = rt
	}
	c.Targets = &t
	return &c
}

// redactWriter replaces secrets in what is written through it (logs).
type redactWriter struct {
	w       io.Writer
	secrets []string
}

func (r *redactWriter) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if len(s) >= 8 && bytes.Contains(out, []byte(s)) {
			out = bytes.ReplaceAll(out, []byte(s), []byte("[redacted]"))
		}
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// redactedError is an error whose message has secrets replaced; errors.Is
// and As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= 8 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
