package journal

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeJournal appends events through a real Writer and returns the file.
func writeJournal(t *testing.T, add func(w *Writer)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	w, err := Create(path, time.Unix(0, 0), func() time.Time { return time.Unix(0, 0).Add(1500 * time.Millisecond) })
	if err != nil {
		t.Fatal(err)
	}
	add(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The fast line parser must read exactly what the general decoder reads.
func TestScanMatchesTheGeneralDecoder(t *testing.T) {
	path := writeJournal(t, func(w *Writer) {
		w.Append(RunStart, "", "", map[string]any{"plan": map[string]any{"regions": []string{"a", "b"}}})
		w.Append(StepStart, "2-shift", "", map[string]string{"drill": "A"})
		w.Append(Intent, "3-flip", "c1", map[string]any{"undo": "x\"y\\z", "n": []int{1, 2}})
		w.Append(Note, "step <with> & escapes", "id\u00e9", "text with } and ] inside")
		w.Append(RunEnd, "", "", nil)
		w.Append(Records, "", "", json.RawMessage(`[[1,0,2,3,4,0,200,1,0,1,0,0,0]]`))
	})
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []Event
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path differs:\n got %+v\nwant %+v", got, want)
	}
	fast := 0
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		if _, ok := parseLine(line); ok {
			fast++
		}
	}
	if fast != len(want)-1 { // only the line with escaped step/id falls back
		t.Fatalf("%d of %d lines took the fast path, want %d", fast, len(want), len(want)-1)
	}
}

func TestReadIgnoresATornLastLineOnly(t *testing.T) {
	good := `{"seq":1,"at_ms":0,"type":"note","data":{"a":[1,2]}}` + "\n"
	for _, torn := range []string{
		`{"seq":2,"at_ms":5,"type":"note","data":{"a":{"b":1}`, // ends in } but not closed
		`{"seq":2,"at_ms":5,"type":"note","data":"abc}`,
		`{"seq":2,"at_ms":5,"typ`,
	} {
		evs, err := Read(strings.NewReader(good + torn))
		if err != nil || len(evs) != 1 {
			t.Errorf("torn last line %q: %d events, %v", torn, len(evs), err)
		}
	}
	// A line that is not JSON at all is an error wherever it is not last.
	_, err := Read(strings.NewReader(good + "not json\n" + good))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("broken middle line: want an error naming line 2, got %v", err)
	}
	// A whole line whose data is broken is caught when the data is decoded.
	evs, err := Read(strings.NewReader(good + `{"seq":2,"at_ms":5,"type":"note","data":{"a":{"b":1}` + "\n"))
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	var v any
	if err := evs[1].Decode(&v); err == nil {
		t.Error("broken data decoded without error")
	}
}

func TestScanStopsOnTheCallersError(t *testing.T) {
	in := `{"seq":1,"at_ms":0,"type":"note","data":1}` + "\n" + `{"seq":2,"at_ms":0,"type":"note","data":2}` + "\n"
	stop := json.Unmarshal([]byte("x"), new(int))
	n := 0
	err := Scan(strings.NewReader(in), func(Event) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

// An event of a type that travels inside a note is written as the note
// every journal has carried, and read back, from this version's journals
// and older ones alike, as its own type with its own data.
func TestNotedTypesKeepTheNoteOnTheWire(t *testing.T) {
	var seen []Event
	path := writeJournal(t, func(w *Writer) {
		w.Append(RunStart, "", "", map[string]any{"origin": time.Unix(0, 0)})
		w.Subscribe(func(ev Event) { seen = append(seen, ev) })
		w.Append(Mark, "", "", map[string]string{"drill": "A", "label": "evacuate x", "kind": "decision"})
		w.Append(Refused, "2 evacuate", "", map[string]string{"refused": "promote", "region": "x", "why": "no"})
		w.Append(RefusedReuse, "6 return-to-home", "", "x")
		w.Append(Note, "", "", map[string]string{"something": "else"})
		w.Append(Note, "", "", map[string]string{"mark": "two keys", "other": "x"})
	})
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))[1:]
	for i, want := range []string{
		`"type":"note","data":{"mark":{"drill":"A","kind":"decision","label":"evacuate x"}}`,
		`"type":"note","step":"2 evacuate","data":{"refused":"promote","region":"x","why":"no"}`,
		`"type":"note","step":"6 return-to-home","data":{"refused_reuse":"x"}`,
		`"type":"note","data":{"something":"else"}`,
		`"type":"note","data":{"mark":"two keys","other":"x"}`,
	} {
		if !bytes.Contains(lines[i], []byte(want)) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], want)
		}
	}
	all, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// OpenAppend reads them as Scan does.
	w, appended, _, err := OpenAppend(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if !reflect.DeepEqual(appended, all) {
		t.Errorf("OpenAppend read\n %+v\nScan read\n %+v", appended, all)
	}
	got := all[1:]
	wantTypes := []Type{Mark, Refused, RefusedReuse, Note, Note}
	wantData := []string{`{"drill":"A","kind":"decision","label":"evacuate x"}`, `{"refused":"promote","region":"x","why":"no"}`, `"x"`,
		`{"something":"else"}`, `{"mark":"two keys","other":"x"}`}
	for i, ev := range got {
		if ev.Type != wantTypes[i] || string(ev.Data) != wantData[i] {
			t.Errorf("read %d: %s %s, want %s %s", i+1, ev.Type, ev.Data, wantTypes[i], wantData[i])
		}
		if s := seen[i]; s.Type != ev.Type || string(s.Data) != string(ev.Data) {
			t.Errorf("subscriber %d: %s %s, want %s %s", i+1, s.Type, s.Data, ev.Type, ev.Data)
		}
	}
}
