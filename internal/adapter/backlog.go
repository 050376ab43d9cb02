package adapter

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Backlog reads a region's queue backlog from somewhere other than its
// contract health: a real deployment's broker or its metrics.
type Backlog interface {
	Backlog(ctx context.Context, region string) (messages int, err error)
}

// JetStreamBacklog reads the backlog of each region's JetStream stream
// (messages held) or, when Consumer is set, of that durable consumer
// (pending plus unacknowledged).
type JetStreamBacklog struct {
	URL      string
	Streams  map[string]string // region → stream name
	Consumer string
	Options  []nats.Option // connect options, such as credentials
}

// Backlog implements Backlog.
func (j *JetStreamBacklog) Backlog(ctx context.Context, region string) (int, error) {
	name, ok := j.Streams[region]
	if !ok {
		return 0, fmt.Errorf("jetstream backlog: no stream named for region %q", region)
	}
	nc, err := nats.Connect(j.URL, append(slices.Clone(j.Options), nats.Timeout(2*time.Second), nats.MaxReconnects(0))...)
	if err != nil {
		return 0, fmt.Errorf("jetstream backlog: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("jetstream backlog: stream %s: %w", name, err)
	}
	if j.Consumer == "" {
		info, err := s.Info(ctx)
		if err != nil {
			return 0, err
		}
		return int(info.State.Msgs), nil
	}
	c, err := s.Consumer(ctx, j.Consumer)
	if err != nil {
		return 0, fmt.Errorf("jetstream backlog: consumer %s: %w", j.Consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.NumPending) + info.NumAckPending, nil
}

// PrometheusBacklog reads the backlog with a PromQL query in which
// {region} is replaced by the region's name.
type PrometheusBacklog struct {
	URL   string
	Query string
}

// Backlog implements Backlog.
func (p *PrometheusBacklog) Backlog(ctx context.Context, region string) (int, error) {
	v, ok, why := PromQuery(ctx, p.URL, strings.ReplaceAll(p.Query, "{region}", region))
	if !ok {
		return 0, fmt.Errorf("prometheus backlog: %s", why)
	}
	return int(v), nil
}

var (
	_ Backlog = (*JetStreamBacklog)(nil)
	_ Backlog = (*PrometheusBacklog)(nil)
)

var promClient = &http.Client{Timeout: 2 * time.Second}

// PromQuery evaluates an instant PromQL query against a Prometheus HTTP
// API at base (through client_golang's API client) at the server's time:
// a scalar's value, or the first sample of a vector. ok is false when the
// value could not be read, with the reason; an empty vector is 0 and ok,
// with the reason "empty result".
func PromQuery(ctx context.Context, base, query string) (float64, bool, string) {
	c, err := promapi.NewClient(promapi.Config{Address: base, Client: promClient})
	if err != nil {
		return 0, false, err.Error()
	}
	val, _, _, err := promv1.NewAPI(c).Query(ctx, query, time.Time{})
	if err != nil {
		return 0, false, "prometheus: " + err.Error()
	}
	switch v := val.(type) {
	case *model.Scalar:
		return float64(v.Value), true, ""
	case model.Vector:
		if len(v) == 0 {
			return 0, true, "empty result"
		}
		return float64(v[0].Value), true, ""
	case nil:
		return 0, false, "prometheus: no result"
	}
	return 0, false, "unsupported result type " + val.Type().String()
}
