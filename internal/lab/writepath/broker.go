package writepath

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/regiondrill/regiondrill/internal/contract"
)

// LedgerBucket is the JetStream KV bucket of the global dedupe ledger.
const LedgerBucket = "ledger"

// startEmbedded runs a private JetStream server storing under dir that
// accepts only auth's user and password; when auth is zero it is given a
// random password, which the caller then connects with. Without listen the
// server opens no port at all: only in-process connections reach it.
func startEmbedded(name, dir string, auth *natsauth.Credentials, listen bool) (*server.Server, error) {
	if auth.IsZero() {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		*auth = natsauth.Credentials{User: "regiondrill", Password: hex.EncodeToString(b)}
	}
	if auth.User == "" || auth.Password == "" || auth.CredsFile != "" || auth.NKeyFile != "" {
		return nil, fmt.Errorf("nats server %s: %w: an embedded server takes a user and a password", name, natsauth.ErrCredentials)
	}
	opts := &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		DontListen: !listen,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
		Users:      []*server.User{{Username: auth.User, Password: auth.Password}},
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats server: not ready after 10s")
	}
	return ns, nil
}

// StartLedgerServer runs the global dedupe ledger: a JetStream server storing
// under dir with the KV bucket "ledger" (no TTL), accepting only auth's user
// and password (required). It returns the client URL.
func StartLedgerServer(dir string, auth natsauth.Credentials) (url string, shutdown func(), err error) {
	if auth.User == "" || auth.Password == "" {
		return "", nil, fmt.Errorf("ledger: %w: a user and a password are required", natsauth.ErrCredentials)
	}
	ns, err := startEmbedded("ledger", filepath.Join(dir, "ledger"), &auth, true)
	if err != nil {
		return "", nil, err
	}
	shutdown = func() { ns.Shutdown(); ns.WaitForShutdown() }
	nc, err := nats.Connect(ns.ClientURL(), auth.Options()...)
	if err != nil {
		shutdown()
		return "", nil, fmt.Errorf("ledger connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		shutdown()
		return "", nil, fmt.Errorf("ledger jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  LedgerBucket,
		History: 1,
		Storage: jetstream.FileStorage,
	}); err != nil {
		shutdown()
		return "", nil, fmt.Errorf("ledger bucket: %w", err)
	}
	return ns.ClientURL(), shutdown, nil
}

// token turns a region name into a stream-name-safe token.
func token(region string) string {
	var b strings.Builder
	for _, r := range region {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// queue is one durable work-queue stream with its single pull consumer.
type queue struct {
	stream  jetstream.Stream
	cons    jetstream.Consumer
	subject string
}

func openQueue(ctx context.Context, js jetstream.JetStream, kind, region string) (*queue, error) {
	name := "RD_" + strings.ToUpper(kind) + "_" + token(region)
	subject := "rd." + kind + "." + token(region)
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{subject},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	// Work-queue retention deletes acked messages, so a fresh consumer starts
	// at the oldest unacked one. Recreating it on open drops the delivery
	// state of the previous run (a message held then would otherwise wait for
	// its ack timeout).
	if err := st.DeleteConsumer(ctx, "relay"); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("reset consumer on %s: %w", name, err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       "relay",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer on %s: %w", name, err)
	}
	return &queue{stream: st, cons: cons, subject: subject}, nil
}

// Message headers of the write and webhook streams.
const (
	hdrKey        = contract.HeaderIdempotencyKey
	hdrOrigin     = "Rd-Origin"      // region that accepted the write
	hdrAcceptedAt = "Rd-Accepted-At" // accept time (RFC 3339, the region's clock)
	hdrEpoch      = "Rd-Epoch"       // sender's known epoch on /internal/inbox
	hdrEmit       = "Rd-Emit"        // webhook routing mode (see emitMode)
	hdrDeferrals  = "Rd-Deferrals"   // times a write went to the back of the queue
	hdrReason     = "Rd-Reason"      // why a dead letter was set aside
)

// openDeadLetters creates the region's dead-letter stream: messages that
// can never be applied, kept (not a work queue) so a drill can count them.
func openDeadLetters(ctx context.Context, js jetstream.JetStream, region string) (*queue, error) {
	name := "RD_DEAD_" + token(region)
	subject := "rd.dead." + token(region)
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{subject},
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	return &queue{stream: st, subject: subject}, nil
}

// backlog is the number of messages not yet acknowledged (work-queue
// retention deletes acked ones) and the accept time of the oldest.
func (q *queue) backlog(ctx context.Context) (int, time.Time, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("stream info: %w", err)
	}
	n := int(info.State.Msgs)
	if n == 0 {
		return 0, time.Time{}, nil
	}
	m, err := q.stream.GetMsg(ctx, info.State.FirstSeq)
	if err != nil {
		// acked and deleted in between: the age is unknown for this call
		return n, time.Time{}, nil
	}
	at, _ := time.Parse(time.RFC3339Nano, m.Header.Get(hdrAcceptedAt))
	return n, at, nil
}

// maxListed bounds how many messages each lists.
const maxListed = 1 << 20

// each calls f on every message in q, oldest first (at most maxListed).
func (q *queue) each(ctx context.Context, f func(*jetstream.RawStreamMsg)) error {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	seq := info.State.FirstSeq
	for range maxListed {
		m, err := q.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(q.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read message %d: %w", seq, err)
		}
		f(m)
		seq = m.Sequence + 1
	}
	return nil
}
