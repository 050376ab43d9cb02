package writepath

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/regiondrill/regiondrill/internal/contract"
	"github.com/regiondrill/regiondrill/internal/lab/httpjson"
)

const maxBody = 1 << 20

// Register mounts the write path's endpoints on mux:
// POST /write, GET /writes, POST /internal/inbox, POST /internal/webhook.
func (p *Path) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /write", p.HandleWrite)
	mux.HandleFunc("GET /writes", p.HandleWrites)
	mux.HandleFunc("POST /internal/inbox", p.HandleInbox)
	mux.HandleFunc("POST /internal/webhook", p.HandleWebhook)
}

// MaxKeyLen bounds an Idempotency-Key, in bytes.
const MaxKeyLen = 255

// checkKey accepts 1 to MaxKeyLen printable ASCII characters.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("Idempotency-Key header required")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("Idempotency-Key is %d bytes, at most %d allowed", len(key), MaxKeyLen)
	}
	for i := range len(key) {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("Idempotency-Key byte %d (0x%02x) is not printable ASCII", i, c)
		}
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "body too large or unreadable")
		return nil, false
	}
	return b, true
}

// HandleWrite is POST /write: idempotent accept into the durable local
// queue. The answer is 202 only once the queue acknowledged the message.
func (p *Path) HandleWrite(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(contract.HeaderIdempotencyKey)
	if err := checkKey(key); err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req contract.WriteRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid write body: "+err.Error())
		return
	}
	hash := sha256Hex(body)
	dedupe := !p.cfg.Faults.NoDedupe
	if dedupe {
		done, err := p.st.beginIdem(key, hash)
		switch {
		case errors.Is(err, errIdemMismatch):
			httpjson.Error(w, http.StatusUnprocessableEntity, err.Error())
			return
		case errors.Is(err, errIdemInFlight):
			httpjson.Error(w, http.StatusConflict, err.Error())
			return
		case err != nil:
			p.log.Error("idempotency record", "key", key, "err", err)
			httpjson.Error(w, http.StatusInternalServerError, "idempotency store")
			return
		case done != nil:
			httpjson.Raw(w, done.Status, done.Body)
			return
		}
	}
	if p.acceptHook != nil {
		p.acceptHook(key)
	}
	st, _ := p.snapshot()
	now := p.clock()
	if st.Frozen && p.cfg.Faults.NoFreeze {
		// the fault: a frozen region writing its own store
		if err := p.st.appendWrite(contract.StoredWrite{
			Key: key, Tenant: req.Tenant, BodyHash: hash, AppliedBy: p.cfg.Region,
			Epoch: st.Epoch, Direct: true, AppliedAt: now,
		}); err != nil {
			p.log.Error("direct write", "key", key, "err", err)
		}
	}
	h := nats.Header{}
	h.Set(hdrKey, key)
	h.Set(hdrOrigin, p.cfg.Region)
	h.Set(hdrAcceptedAt, now.UTC().Format(time.RFC3339Nano))
	ack, err := p.publish(r.Context(), p.writesQ, body, h, key)
	if err != nil {
		p.log.Error("enqueue write", "key", key, "err", err)
		if dedupe {
			if err := p.st.abortIdem(key); err != nil {
				p.log.Error("abort idempotency record", "key", key, "err", err)
			}
		}
		httpjson.Error(w, http.StatusServiceUnavailable, "write not queued")
		return
	}
	resp, err := json.Marshal(contract.WriteAck{Key: key, Region: p.cfg.Region, Status: "queued", Sequence: ack.Sequence})
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	if dedupe {
		if err := p.st.finishIdem(key, hash, http.StatusAccepted, resp); err != nil {
			// the write is durable; a retry is deduped by the stream and the ledger
			p.log.Error("finish idempotency record", "key", key, "err", err)
		}
	}
	p.met.accepted.Add(1)
	httpjson.Raw(w, http.StatusAccepted, resp)
}

// HandleWrites is GET /writes: the local store in apply order.
func (p *Path) HandleWrites(w http.ResponseWriter, _ *http.Request) {
	ws, err := p.Writes()
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	httpjson.Write(w, http.StatusOK, ws)
}

func (p *Path) authorized(w http.ResponseWriter, r *http.Request) bool {
	if p.cfg.InternalToken == "" {
		return true
	}
	got := []byte(r.Header.Get("Authorization"))
	want := []byte("Bearer " + p.cfg.InternalToken)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		httpjson.Error(w, http.StatusUnauthorized, "bad internal token")
		return false
	}
	return true
}

// HandleInbox is POST /internal/inbox: a follower hands a queued write to
// the primary, which queues it durably. Not primary (or a sender that knows
// a newer epoch) → 409; the sender keeps it and retries.
func (p *Path) HandleInbox(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(w, r) {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	key := r.Header.Get(hdrKey)
	if err := checkKey(key); err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	st, _ := p.snapshot()
	if st.Role != contract.RolePrimary {
		httpjson.Error(w, http.StatusConflict, "not primary")
		return
	}
	if e, err := strconv.ParseUint(r.Header.Get(hdrEpoch), 10, 64); err == nil && e > st.Epoch {
		httpjson.Error(w, http.StatusConflict, "stale epoch")
		return
	}
	h := nats.Header{}
	h.Set(hdrKey, key)
	for _, k := range []string{hdrOrigin, hdrAcceptedAt} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	// The message id names the epoch it was handed over in: a write this
	// region accepted itself may come back after a promotion round trip
	// within the duplicate window, and must not be taken for its own first
	// publish (that dropped it: the lost write of issue 11). Retries of one
	// hand-over in one epoch are still deduped.
	if _, err := p.publish(r.Context(), p.writesQ, body, h, key+"@"+strconv.FormatUint(st.Epoch, 10)); err != nil {
		p.log.Error("enqueue forwarded write", "key", key, "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "write not queued")
		return
	}
	httpjson.Write(w, http.StatusAccepted, contract.WriteAck{Key: key, Region: p.cfg.Region, Status: "queued"})
}

// HandleWebhook is POST /internal/webhook: a peer hands over an event to
// queue in this region's webhook stream (deduped by event id).
func (p *Path) HandleWebhook(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(w, r) {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		httpjson.Error(w, http.StatusBadRequest, "invalid event")
		return
	}
	mode := emitNormal
	if emitMode(r.Header.Get(hdrEmit)) == emitHere {
		mode = emitHere
	}
	if err := p.enqueueEvent(r.Context(), ev, mode); err != nil {
		p.log.Error("enqueue event", "id", ev.ID, "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "event not queued")
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]string{"id": ev.ID})
}
