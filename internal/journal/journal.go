// Package journal is the drill's append-only, write-ahead record. Every
// change to a target is written with its undo before it is applied, then
// marked done; every observation (requests, health, probes, checks, steps) is
// appended as it happens. Reports are built from the journal alone, and
// rollback restores a target from it after a crash.
package journal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Type is the kind of an event.
type Type string

// Event types.
const (
	RunStart    Type = "run_start"    // plan, target, seed, clock origin
	StepStart   Type = "step_start"   // a runbook step begins
	StepEnd     Type = "step_end"     // a runbook step ends with its outcome
	Intent      Type = "intent"       // a change is about to be applied (with its undo)
	Applied     Type = "applied"      // the change was applied
	ApplyFailed Type = "apply_failed" // the change failed (it may be partly applied: its undo still runs)
	Undone      Type = "undone"       // the change's undo ran
	UndoFailed  Type = "undo_failed"
	Check       Type = "check"    // a pre/live/post check result
	Probe       Type = "probe"    // probe-set results of one round in one region
	Health      Type = "health"   // a health snapshot of every region
	Records     Type = "records"  // a batch of client request records
	Writes      Type = "writes"   // the client's write attempts, classified later
	Stores      Type = "stores"   // the final read of every region's store
	Webhooks    Type = "webhooks" // the sink's deliveries
	Stop        Type = "stop"     // a stop condition tripped
	Stall       Type = "stall"    // the measuring process could not run for a while (internal/stall)
	Note        Type = "note"     // a note of no type this version knows (from a newer one)
	RunEnd      Type = "run_end"  // the run ended with its outcome (event.Outcome)
)

// Event types that travel inside a note: on the wire a mark is the line
// {"type":"note","data":{"mark":{…}}}, as every journal has written it, and
// Append still writes it so; Append's subscribers, Scan, Read and
// OpenAppend hand it over as the event mark with the data {…}. Package
// event declares the data of every type.
const (
	Mark             Type = "mark"              // an action on the timeline
	Baseline         Type = "baseline"          // the window a drill's baseline is measured over
	Drained          Type = "drained"           // how long the queues took to drain at closeout
	Refused          Type = "refused"           // a change the drill refused (the note's data is the event's: its first field is "refused")
	RefusedReuse     Type = "refused_reuse"     // a returning region whose index differs: it keeps weight 0
	CachePurge       Type = "cache_purge"       // the evidence around a cache purge
	IndexTraffic     Type = "index_traffic"     // drill C's client answers while the skewed index was published
	LoadStart        Type = "load_start"        // the load started: record times count from here
	LoadError        Type = "load_error"        // the load could not run
	LoadSummary      Type = "load_summary"      // the load generator's own account
	RegionsIndex     Type = "regions_index"     // the region names the records' region numbers index
	StoreError       Type = "store_error"       // a region's store could not be read
	DeliveriesError  Type = "deliveries_error"  // the sink's deliveries could not be read
	DeliveriesWaived Type = "deliveries_waived" // the plan waives the sink
	Rollback         Type = "rollback"          // regiondrill rollback starts restoring
	AgentsVantages   Type = "agents_vantages"   // the vantage points and what each was assigned
	AgentsClock      Type = "agents_clock"      // the agents' clock offsets measured after the load
	AgentsStart      Type = "agents_start"      // when a vantage's generator started
	AgentsEnd        Type = "agents_end"        // a vantage's last message
	AgentsLost       Type = "agents_lost"       // a vantage's agent was lost
	AgentsBadData    Type = "agents_bad_data"   // a vantage's message that could not be read
)

// noted lists the types that travel inside a note, in the order above.
var noted = []Type{Mark, Baseline, Drained, Refused, RefusedReuse, CachePurge, IndexTraffic, LoadStart, LoadError,
	LoadSummary, RegionsIndex, StoreError, DeliveriesError, DeliveriesWaived, Rollback,
	AgentsVantages, AgentsClock, AgentsStart, AgentsEnd, AgentsLost, AgentsBadData}

// Noted lists the types that travel inside a note.
func Noted() []Type { return slices.Clone(noted) }

// inNote reports whether events of type t travel inside a note.
func (t Type) inNote() bool { return slices.Contains(noted, t) }

// toNote turns the data of an event of a noted type into the note's data:
// {"<type>": data}, or the data itself for Refused (flat: its first field
// names the note).
func toNote(t Type, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if t == Refused {
		return raw
	}
	key, _ := json.Marshal(string(t))
	out := make([]byte, 0, len(key)+len(raw)+3)
	out = append(append(append(append(out, '{'), key...), ':'), raw...)
	return append(out, '}')
}

// fromNote hands a note that carries an event of a noted type over as that
// event; any other event is returned as it is.
func fromNote(ev Event) Event {
	if ev.Type != Note || len(ev.Data) == 0 {
		return ev
	}
	dec := json.NewDecoder(bytes.NewReader(ev.Data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ev
	}
	tok, err := dec.Token()
	key, _ := tok.(string)
	if err != nil || !Type(key).inNote() {
		return ev
	}
	if Type(key) == Refused {
		ev.Type = Refused
		return ev
	}
	var data json.RawMessage
	if dec.Decode(&data) != nil || dec.More() {
		return ev // not a note of one key
	}
	ev.Type, ev.Data = Type(key), data
	return ev
}

// Event is one line of the journal. At is milliseconds since the run's start
// (RunStart carries the wall-clock origin), so journals replay identically.
type Event struct {
	Seq  int             `json:"seq"`
	At   int64           `json:"at_ms"`
	Type Type            `json:"type"`
	Step string          `json:"step,omitempty"`
	ID   string          `json:"id,omitempty"` // change id for intent/applied/undone
	Data json.RawMessage `json:"data,omitempty"`
}

// Decode unmarshals the event's data.
func (e Event) Decode(v any) error {
	if len(e.Data) == 0 {
		return errors.New("the event has no data")
	}
	if u, ok := v.(json.Unmarshaler); ok { // its own parser checks the data strictly
		return u.UnmarshalJSON(e.Data)
	}
	return json.Unmarshal(e.Data, v)
}

// Writer appends events and syncs change records to disk before returning,
// so a crash never loses an intent whose change may have been applied. Every
// line is hash-chained to the one before and, with SealWith, sealed (see
// seal.go); secrets given to Redact never reach the file.
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	seq     int
	origin  time.Time
	clock   func() time.Time
	subs    []func(Event)
	chain   [sha256.Size]byte
	key     *Key
	mac     hash.Hash
	secrets [][2][]byte // what to replace → with what
	line    []byte      // the buffer of the last line written by hand (AppendRaw), reused
	// before runs once before the first line is written (OpenAppend's
	// repair of a torn last line), so a writer that writes nothing
	// changes nothing.
	before func() error
}

// Option configures a Writer.
type Option func(*Writer)

// SealWith seals every appended line with key.
func SealWith(key *Key) Option {
	return func(w *Writer) {
		if key != nil {
			w.key, w.mac = key, key.mac()
		}
	}
}

// AddSecrets redacts more secrets from here on (see Redact).
func (w *Writer) AddSecrets(secrets ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	Redact(secrets...)(w)
}

// Redact replaces every occurrence of each secret (as written, and as a JSON
// string escapes it) in the data of appended events with "[redacted]".
// Secrets shorter than 8 bytes are ignored: they would match ordinary text.
func Redact(secrets ...string) Option {
	return func(w *Writer) {
		for _, s := range secrets {
			if len(s) < 8 {
				continue
			}
			esc, _ := json.Marshal(s)
			forms := [][]byte{[]byte(s)}
			if e := esc[1 : len(esc)-1]; string(e) != s {
				forms = append(forms, e)
			}
			for _, f := range forms {
				w.secrets = append(w.secrets, [2][]byte{f, []byte("[redacted]")})
			}
		}
	}
}

func (w *Writer) redact(b []byte) []byte {
	for _, s := range w.secrets {
		if bytes.Contains(b, s[0]) {
			b = bytes.ReplaceAll(b, s[0], s[1])
		}
	}
	return b
}

// Create opens a new journal file (it must not exist), readable and
// writable by its owner only.
func Create(path string, origin time.Time, clock func() time.Time, opts ...Option) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	w := &Writer{f: f, bw: bufio.NewWriterSize(f, 64<<10), origin: origin, clock: clock, chain: genesis}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// Subscribe registers an observer called for every appended event (terminal
// view, live checks). Observers must not block.
func (w *Writer) Subscribe(f func(Event)) {
	w.mu.Lock()
	w.subs = append(w.subs, f)
	w.mu.Unlock()
}

// Origin is the wall-clock time of at_ms 0.
func (w *Writer) Origin() time.Time { return w.origin }

// Since returns ms since the origin by the writer's clock.
func (w *Writer) Since() int64 { return w.clock().Sub(w.origin).Milliseconds() }

// Append writes one event. Change events (intent, applied, undone, ...) and
// run boundaries are flushed and fsynced before Append returns.
func (w *Writer) Append(typ Type, step, id string, data any) (Event, error) {
	var raw json.RawMessage
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return Event{}, fmt.Errorf("journal: encode %s: %w", typ, err)
		}
		raw = b
	}
	return w.append(typ, step, id, raw, false)
}

// AppendRaw writes one event whose data is already encoded, and writes it
// as Append would write the same data: the same bytes on the line, the same
// redaction, note, chain, seal, flush and subscribers. It is for bulk data
// (record batches) whose encoding would otherwise be compacted again, once
// by json.Marshal of the data and once inside the line.
//
// data must be what json.Marshal writes: valid JSON without insignificant
// space, with <, >, & and U+2028/U+2029 escaped inside strings. AppendRaw
// neither checks nor compacts it (that is the work it saves); anything else
// makes a line other than Append's, or one no reader accepts. Empty data
// writes no data field, as Append(nil) does. The returned Event, and what
// subscribers are handed, may share data's bytes: do not change them.
func (w *Writer) AppendRaw(typ Type, step, id string, data json.RawMessage) (Event, error) {
	if len(data) == 0 {
		data = nil
	}
	return w.append(typ, step, id, data, true)
}

// lineSpare is room enough for a line's envelope and its chain and seal
// fields beside its data (and its step and id, when short).
const lineSpare = 256

// append writes one event of encoded data raw (nil: none). byHand builds
// the line with appendLine, which trusts raw to be compact, instead of
// json.Marshal, which compacts and checks it again.
func (w *Writer) append(typ Type, step, id string, raw json.RawMessage, byHand bool) (Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return Event{}, errors.New("journal: closed")
	}
	if raw != nil {
		raw = w.redact(raw)
	}
	lineType, lineData := typ, raw
	if typ.inNote() {
		lineType, lineData = Note, toNote(typ, raw)
	}
	if w.before != nil {
		if err := w.before(); err != nil {
			return Event{}, fmt.Errorf("journal: %w", err)
		}
		w.before = nil
	}
	w.seq++
	ev := Event{Seq: w.seq, At: w.clock().Sub(w.origin).Milliseconds(), Type: lineType, Step: step, ID: id, Data: lineData}
	var line []byte
	if byHand {
		line = appendLine(slices.Grow(w.line[:0], len(lineData)+len(step)+len(id)+lineSpare), ev)
	} else {
		var err error
		if line, err = json.Marshal(ev); err != nil {
			return Event{}, err
		}
	}
	ev.Type, ev.Data = typ, raw // what subscribers and the caller see: the event as its own type
	line = w.seal(line)
	if _, err := w.bw.Write(line); err != nil {
		return Event{}, fmt.Errorf("journal: write: %w", err)
	}
	if byHand && cap(line) <= maxKeptLine {
		// Bulk lines are alike: the next one reuses this buffer, which
		// costs less than a fresh one for each.
		w.line = line[:0]
	}
	if durable(typ) {
		if err := w.bw.Flush(); err != nil {
			return Event{}, fmt.Errorf("journal: flush: %w", err)
		}
		if err := w.f.Sync(); err != nil {
			return Event{}, fmt.Errorf("journal: sync: %w", err)
		}
	}
	for _, s := range w.subs {
		s(ev)
	}
	return ev, nil
}

// maxKeptLine is the largest line buffer a Writer keeps between lines
// (a batch of 2,048 records takes about 180 kB).
const maxKeptLine = 1 << 20

// appendLine appends ev as json.Marshal(ev) writes it, its Data taken as
// it is: {"seq":..,"at_ms":..,"type":..,["step":..,]["id":..,]["data":..]}.
func appendLine(out []byte, ev Event) []byte {
	out = append(out, `{"seq":`...)
	out = strconv.AppendInt(out, int64(ev.Seq), 10)
	out = append(out, `,"at_ms":`...)
	out = strconv.AppendInt(out, ev.At, 10)
	out = append(out, `,"type":`...)
	out = appendString(out, string(ev.Type))
	if ev.Step != "" {
		out = append(out, `,"step":`...)
		out = appendString(out, ev.Step)
	}
	if ev.ID != "" {
		out = append(out, `,"id":`...)
		out = appendString(out, ev.ID)
	}
	if len(ev.Data) > 0 {
		out = append(out, `,"data":`...)
		out = append(out, ev.Data...)
	}
	return append(out, '}')
}

// appendString appends s as a JSON string the way json.Marshal writes it:
// plain printable ASCII as it is, anything else through json.Marshal
// itself (its escapes, HTML-safe, and U+FFFD for invalid UTF-8).
func appendString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(out, b...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

// seal turns a marshalled event into the line written: its body, the chain
// and, with a key, the seal, then a newline. It advances the chain.
func (w *Writer) seal(line []byte) []byte {
	body := line[:len(line)-1] // without the closing brace
	w.chain = next(w.chain, body)
	out := append(body, chainPrefix...)
	out = hex.AppendEncode(out, w.chain[:])
	if w.mac != nil {
		w.mac.Reset()
		w.mac.Write(w.chain[:])
		out = append(out, sealPrefix...)
		out = hex.AppendEncode(out, w.mac.Sum(nil))
	}
	return append(out, '"', '}', '\n')
}

func durable(t Type) bool {
	switch t {
	case Intent, Applied, ApplyFailed, Undone, UndoFailed, RunStart, RunEnd, StepStart, StepEnd, Stop:
		return true
	}
	return false
}

// Flush writes buffered events to disk.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	return w.f.Sync()
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := errors.Join(w.bw.Flush(), w.f.Sync(), w.f.Close())
	w.f = nil
	return err
}

// Read parses a journal. A torn last line (a crash mid-write) is ignored;
// any other malformed line is an error naming its line number.
func Read(r io.Reader) ([]Event, error) {
	var out []Event
	err := Scan(r, func(ev Event) error {
		ev.Data = bytes.Clone(ev.Data)
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Scan parses a journal one event at a time, handing each to fn, so a large
// journal is never held whole. Lines are handled as Read handles them; an
// error from fn stops the scan and is returned. The event's Data is only
// valid during fn (Decode it, or clone it). A whole line (one that ends in a
// newline: Append writes nothing after it) has its envelope checked and its
// data checked when decoded; a last line without a newline is checked whole
// and, if torn, ignored.
func Scan(r io.Reader, fn func(Event) error) error {
	var pending error
	line := 0
	err := scanLines(r, func(b []byte, whole bool) error {
		line++
		if pending != nil {
			return pending
		}
		ev, ok := Event{}, false
		if whole {
			ev, ok = parseLine(b)
		}
		if !ok {
			if err := json.Unmarshal(b, &ev); err != nil {
				pending = fmt.Errorf("journal line %d: %w", line, err)
				return nil
			}
		}
		return fn(fromNote(ev))
	})
	return err
}

// scanLines hands fn each non-empty line of r (without its newline) and
// whether it was whole (ended in a newline); an error from fn stops it.
// Line numbers in its own errors count every line, empty ones too.
func scanLines(r io.Reader, fn func(b []byte, whole bool) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), maxLine)
	whole := false // the line read last ended in a newline
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			whole = true
			return i + 1, bytes.TrimSuffix(data[:i], []byte("\r")), nil
		}
		if atEOF && len(data) > 0 {
			whole = false
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	line := 0
	for sc.Scan() {
		line++
		if b := sc.Bytes(); len(b) > 0 {
			if err := fn(b, whole); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("journal line %d: %w", line+1, err)
	}
	return nil
}

// wholeJSON reports whether a last line without a newline is a complete
// event (Scan reads it) rather than torn by a crash (Scan ignores it).
func wholeJSON(b []byte) bool { return json.Valid(b) }

// parseLine reads a line in the exact layout Append writes
// ({"seq":..,"at_ms":..,"type":"..",["step":"..",]["id":"..",]["data":..]
// followed by the chain and seal fields, or by "}" in older journals)
// without decoding its data twice. Anything else (escapes in the strings,
// other field orders, a torn line) returns false for the general decoder.
func parseLine(b []byte) (Event, bool) {
	var ev Event
	if body, chain, _ := tail(b); chain != nil {
		b = body // parsed up to the chain field: the data ends there
	} else if len(b) > 0 && b[len(b)-1] == '}' {
		b = b[:len(b)-1]
	} else {
		return ev, false
	}
	p := lineParser{b: b}
	var ok bool
	if !p.lit(`{"seq":`) {
		return ev, false
	}
	var seq int64
	if seq, ok = p.int(); !ok || !p.lit(`,"at_ms":`) {
		return ev, false
	}
	ev.Seq = int(seq)
	if ev.At, ok = p.int(); !ok || !p.lit(`,"type":`) {
		return ev, false
	}
	var typ string
	if typ, ok = p.str(); !ok {
		return ev, false
	}
	ev.Type = Type(typ)
	if p.lit(`,"step":`) {
		if ev.Step, ok = p.str(); !ok {
			return ev, false
		}
	}
	if p.lit(`,"id":`) {
		if ev.ID, ok = p.str(); !ok {
			return ev, false
		}
	}
	if p.i == len(b) {
		return ev, true
	}
	if !p.lit(`,"data":`) || len(b) < p.i+1 {
		return ev, false
	}
	ev.Data = b[p.i:]
	return ev, true
}

type lineParser struct {
	b []byte
	i int
}

func (p *lineParser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *lineParser) int() (int64, bool) {
	start, neg := p.i, p.lit("-")
	var v int64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' && p.i-start < 18 {
		v = v*10 + int64(p.b[p.i]-'0')
		p.i++
	}
	digits := p.i - start - b2i(neg)
	if digits == 0 || (digits > 1 && p.b[start+b2i(neg)] == '0') || (p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9') {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// str reads a string without escapes or control characters.
func (p *lineParser) str() (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return string(p.b[start : p.i-1]), utf8.Valid(p.b[start : p.i-1])
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// maxLine bounds one journal line. The engine writes bulk data (records,
// writes, stores, deliveries) in batches far below it.
const maxLine = 64 << 20

// ReadFile reads a journal file.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// OpenAppend reopens an existing journal to append to it (rollback records
// what it restored in the journal of the drill it rolls back). Sequence
// numbers and the chain continue; at_ms stays relative to the journal's
// origin. It reads and verifies the journal through the descriptor it
// appends to, so what was verified is what is appended to: trust is nil
// when every line chains and carries a seal made with the SealWith key,
// else an *IntegrityError naming the first line that fails (the events
// are returned anyway, for a caller told to trust the journal).
func OpenAppend(path string, clock func() time.Time, opts ...Option) (w *Writer, evs []Event, trust error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	if clock == nil {
		clock = time.Now
	}
	w = &Writer{f: f, bw: bufio.NewWriterSize(f, 64<<10), clock: clock, chain: genesis}
	for _, o := range opts {
		o(w)
	}
	v := newVerifier(w.key)
	line, torn, unended := 0, 0, false
	err = scanLines(f, func(b []byte, whole bool) error {
		line++
		if !whole && !wholeJSON(b) {
			torn = len(b) // torn by a crash: ignored, as Scan ignores it
			return nil
		}
		unended = !whole
		v.add(b)
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return fmt.Errorf("journal line %d: %w", line, err)
		}
		evs = append(evs, fromNote(ev))
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(evs) == 0 || evs[0].Type != RunStart {
		return nil, nil, nil, fmt.Errorf("%s: not a drill journal (no run_start)", path)
	}
	var start struct {
		Origin time.Time `json:"origin"`
	}
	if err := evs[0].Decode(&start); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: run_start: %w", path, err)
	}
	w.origin, w.seq, w.chain = start.Origin, evs[len(evs)-1].Seq, v.chain
	// What is appended must start a line of its own: a torn last line is
	// cut off (Scan ignores it anyway), a whole one gets its newline. Only
	// when something is appended: a caller that refuses to act (the drill
	// may still be writing) leaves the file as it was.
	switch {
	case torn > 0:
		w.before = func() error {
			st, err := f.Stat()
			if err != nil {
				return err
			}
			if err := f.Truncate(st.Size() - int64(torn)); err != nil {
				return fmt.Errorf("%s: cut the torn last line: %w", path, err)
			}
			return nil
		}
	case unended:
		w.before = func() error {
			_, err := f.Write([]byte("\n"))
			return err
		}
	}
	if v.err != nil {
		trust = v.err
	}
	return w, evs, trust, nil
}
