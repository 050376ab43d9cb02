// Package live serves a page that follows a running drill: it observes the
// journal as the engine appends to it and streams what changed to the
// browser with server-sent events (the runbook step, the actions, each
// second's request rate, errors, latency percentiles, traffic per region and
// backlog, the cutover clock) and, at the end, the verdict. Reading needs
// nothing; anything else (stopping the drill) needs the run's token.
package live

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/regiondrill/regiondrill/internal/event"
	"github.com/regiondrill/regiondrill/internal/journal"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Tick is one second of the drill as the live view shows it.
type Tick struct {
	T         float64            `json:"t"`   // seconds since the run started
	RPS       float64            `json:"rps"` // requests ended per second
	ErrorPct  float64            `json:"err_pct"`
	Err5xxPct float64            `json:"err5xx_pct"`
	P50MS     float64            `json:"p50_ms"`
	P95MS     float64            `json:"p95_ms"`
	P99MS     float64            `json:"p99_ms"`
	ByRegion  map[string]float64 `json:"by_region"` // requests per second served by each region
	Backlog   map[string]int     `json:"backlog"`   // queue backlog per region
	Up        int                `json:"up"`        // regions whose health answered
}

// Step is a runbook step, open while EndT is nil.
type Step struct {
	Drill   string   `json:"drill"`
	Name    string   `json:"name"`
	StartT  float64  `json:"start_t"`
	EndT    *float64 `json:"end_t"`
	Outcome string   `json:"outcome,omitempty"`
}

// Action is a change on the timeline.
type Action struct {
	T     float64 `json:"t"`
	Drill string  `json:"drill"`
	Label string  `json:"label"`
	Kind  string  `json:"kind"`
}

// Cutover is the live cutover clock: from the evacuation decision until a
// second in which the evacuated region served nothing and nothing failed.
// The report's cutover, measured from every request, is the one judged.
type Cutover struct {
	Drill  string   `json:"drill"`
	Region string   `json:"region"`
	StartT float64  `json:"start_t"`
	EndT   *float64 `json:"end_t"`
}

// Final is the verdict at the end of the run.
type Final struct {
	Verdict   string   `json:"verdict"`
	Reason    string   `json:"reason,omitempty"`
	Failed    []string `json:"failed"`    // "B cutover_s: measured 31.2, target ≤ 30 s"
	Diagnoses []string `json:"diagnoses"` // titles
	Report    string   `json:"report,omitempty"`
}

// State is everything the page shows; a new browser gets it whole, then the
// changes.
type State struct {
	Title    string    `json:"title"`
	Target   string    `json:"target"`
	Regions  []string  `json:"regions"`
	Drills   []string  `json:"drills"`
	Evacuate string    `json:"evacuate"`
	Ticks    []Tick    `json:"ticks"`
	Steps    []Step    `json:"steps"`
	Actions  []Action  `json:"actions"`
	Cutovers []Cutover `json:"cutovers"`
	Stop     string    `json:"stop,omitempty"` // a stop condition that tripped
	Final    *Final    `json:"final"`
}

// message is one server-sent event.
type message struct {
	event string
	data  []byte
}

// Feed turns journal events into State and messages for subscribers.
type Feed struct {
	mu    sync.Mutex
	st    State
	subs  map[chan message]struct{}
	ended chan struct{}
}

// NewFeed returns an empty feed titled title.
func NewFeed(title string) *Feed {
	return &Feed{st: State{Title: title, Ticks: []Tick{}, Steps: []Step{}, Actions: []Action{}, Cutovers: []Cutover{}, Regions: []string{}},
		subs: map[chan message]struct{}{}, ended: make(chan struct{})}
}

// Observe is a journal subscriber: it must not block, so a browser that
// cannot keep up is dropped (it reconnects and gets the whole state).
func (f *Feed) Observe(ev journal.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := float64(ev.At) / 1000
	switch ev.Type {
	case journal.RunStart:
		var rs event.RunStart
		if ev.Decode(&rs) != nil {
			return
		}
		var p struct {
			Evacuate string `json:"evacuate"`
		}
		_ = json.Unmarshal(rs.Plan, &p) // a plan without evacuate shows no region
		f.st.Target, f.st.Regions, f.st.Evacuate = rs.Target, rs.Regions, p.Evacuate
		f.st.Drills = f.st.Drills[:0]
		for _, l := range rs.Drills {
			f.st.Drills = append(f.st.Drills, string(l))
		}
		f.send("state", f.st)
	case journal.StepStart:
		var sd event.StepStart
		_ = ev.Decode(&sd)
		s := Step{Drill: string(sd.Drill), Name: ev.Step, StartT: t}
		f.st.Steps = append(f.st.Steps, s)
		f.send("step", s)
	case journal.StepEnd:
		var sd event.StepEnd
		_ = ev.Decode(&sd)
		for i := len(f.st.Steps) - 1; i >= 0; i-- {
			if s := &f.st.Steps[i]; s.Name == ev.Step && s.Drill == string(sd.Drill) && s.EndT == nil {
				s.EndT, s.Outcome = &t, string(sd.Outcome)
				f.send("step", *s)
				break
			}
		}
	case journal.Mark:
		var m event.Mark
		if ev.Decode(&m) != nil {
			return
		}
		a := Action{T: t, Drill: string(m.Drill), Label: m.Label, Kind: string(m.Kind)}
		f.st.Actions = append(f.st.Actions, a)
		f.send("action", a)
		if m.Kind == event.MarkDecision && f.st.Evacuate != "" && strings.Contains(a.Label, f.st.Evacuate) {
			c := Cutover{Drill: a.Drill, Region: f.st.Evacuate, StartT: t}
			f.st.Cutovers = append(f.st.Cutovers, c)
			f.send("cutover", c)
		}
	case journal.Health:
		var s event.Health
		if ev.Decode(&s) != nil {
			return
		}
		tk := tick(t, s)
		f.st.Ticks = append(f.st.Ticks, tk)
		f.send("tick", tk)
		if n := len(f.st.Cutovers); n > 0 && f.st.Cutovers[n-1].EndT == nil && s.Load != nil && s.Load.Requests > 0 &&
			tk.ByRegion[f.st.Cutovers[n-1].Region] == 0 && s.Load.Errors == 0 {
			c := &f.st.Cutovers[n-1]
			c.EndT = &t
			f.send("cutover", *c)
		}
	case journal.Stop:
		f.st.Stop = strings.Trim(string(ev.Data), `"`)
		f.send("state", f.st)
	}
}

func tick(t float64, s event.Health) Tick {
	tk := Tick{T: t, ByRegion: map[string]float64{}, Backlog: map[string]int{}, Up: len(s.Regions)}
	for r, h := range s.Regions {
		tk.Backlog[r] = h.Queue.Backlog
	}
	if l := s.Load; l != nil && l.Span > 0 {
		tk.RPS = round1(float64(l.Requests) / l.Span)
		if l.Requests > 0 {
			tk.ErrorPct = round1(100 * float64(l.Errors) / float64(l.Requests))
			tk.Err5xxPct = round1(100 * float64(l.Err5xx) / float64(l.Requests))
		}
		tk.P50MS, tk.P95MS, tk.P99MS = l.P50MS, l.P95MS, l.P99MS
		for r, n := range l.ByRegion {
			tk.ByRegion[r] = round1(float64(n) / l.Span)
		}
	}
	return tk
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// Finish publishes the verdict; report is where the page links the full
// report ("" for none).
func (f *Feed) Finish(rep *verdict.Report, report string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fin := &Final{Verdict: string(rep.Verdict), Reason: rep.Reason, Failed: []string{}, Diagnoses: []string{}, Report: report}
	for _, t := range rep.Failed() {
		fin.Failed = append(fin.Failed, t.Drill+" "+t.ID+": measured "+strings.TrimSpace(strings.ReplaceAll(jsonText(t.Value), `"`, ""))+", target "+t.Target)
	}
	for _, d := range rep.Diagnoses {
		fin.Diagnoses = append(fin.Diagnoses, d.Title)
	}
	f.st.Final = fin
	f.send("final", fin)
	select {
	case <-f.ended:
	default:
		close(f.ended)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v) // a measured value always marshals
	return string(b)
}

// Snapshot returns a copy of the state as JSON.
func (f *Feed) Snapshot() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(f.st) // State always marshals
	return b
}

// subscribe returns a channel of messages, starting with the whole state.
func (f *Feed) subscribe() (chan message, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan message, 512)
	b, _ := json.Marshal(f.st)
	ch <- message{"state", b}
	f.subs[ch] = struct{}{}
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
	}
}

// send queues a message for every subscriber; f.mu is held.
func (f *Feed) send(event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	for ch := range f.subs {
		select {
		case ch <- message{event, b}:
		default: // too slow: drop it; its browser reconnects and starts over
			delete(f.subs, ch)
			close(ch)
		}
	}
}
