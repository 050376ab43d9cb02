package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
// API and returns its first value; ok is false (with the reason) when there
// is no usable value. An empty result is 0.
func PromQuery(ctx context.Context, base, query string) (float64, bool, string) {
	u := strings.TrimSuffix(base, "/") + "/api/v1/query?query=" + url.QueryEscape(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, false, err.Error()
	}
	resp, err := promClient.Do(req)
	if err != nil {
		return 0, false, err.Error()
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		return 0, false, "prometheus answer: " + err.Error()
	}
	if out.Status != "success" {
		return 0, false, "prometheus: " + out.Error
	}
	var pair []any
	switch out.Data.ResultType {
	case "scalar":
		_ = json.Unmarshal(out.Data.Result, &pair)
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		_ = json.Unmarshal(out.Data.Result, &vec)
		if len(vec) == 0 {
			return 0, true, "empty result"
		}
		pair = vec[0].Value
	default:
		return 0, false, "unsupported result type " + out.Data.ResultType
	}
	if len(pair) != 2 {
		return 0, false, "malformed sample"
	}
	s, _ := pair[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, "sample value: " + err.Error()
	}
	return v, true, ""
}
