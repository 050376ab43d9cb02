package journal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rawCase is one event given both ways: data to Append, and its encoding
// (as json.Marshal writes it) to AppendRaw.
type rawCase struct {
	typ      Type
	step, id string
	data     any
}

func rawCases(secret string) []rawCase {
	return []rawCase{
		{RunStart, "", "", map[string]any{"origin": time.Unix(0, 0), "token": secret}},
		{StepStart, "2 evacuate", "", map[string]string{"drill": "A"}},
		{Intent, "3 flip", "c001", map[string]any{"undo": "x\"y\\z <&> \u2028", "err": "Bearer " + secret}},
		{Applied, "3 flip", "c001", nil},
		{Note, "step <with> & \"escapes\"", "id\u00e9\x01", "text with } and ] inside"},
		{Note, "bad \xff utf-8", "", 12},
		{Check, "a <b> & c", "<&>", []string{"<&>"}},
		{Mark, "", "", map[string]string{"drill": "A", "label": "evacuate x"}},
		{Refused, "2 evacuate", "", map[string]string{"refused": "promote", "region": "x"}},
		{Records, "", "a1", json.RawMessage(`[[1,0,2,3,4,0,200,1,0,1,0,0,0],[2,0,-5,3,0,7,0,2,1,2,2,3,1]]`)},
		{Records, "", "a2", json.RawMessage(`[]`)},
		{RunEnd, "", "", map[string]string{"outcome": "pass"}},
	}
}

// journalBothWays writes cases to one journal through Append and to
// another through AppendRaw, with the same clock, key and secrets, and
// returns both files and what each writer's subscriber saw.
func journalBothWays(t *testing.T, key *Key, secret string) (viaAppend, viaRaw string, seenAppend, seenRaw []Event) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, raw bool) (string, []Event) {
		path := filepath.Join(dir, name)
		at := time.Unix(0, 0)
		clock := func() time.Time { at = at.Add(7 * time.Millisecond); return at }
		w, err := Create(path, time.Unix(0, 0), clock, SealWith(key), Redact(secret))
		if err != nil {
			t.Fatal(err)
		}
		var seen []Event
		w.Subscribe(func(ev Event) { seen = append(seen, ev) })
		for _, c := range rawCases(secret) {
			var ev Event
			if raw {
				var enc []byte
				if c.data != nil {
					if enc, err = json.Marshal(c.data); err != nil {
						t.Fatal(err)
					}
				}
				before := bytes.Clone(enc)
				ev, err = w.AppendRaw(c.typ, c.step, c.id, enc)
				if !bytes.Equal(enc, before) {
					t.Fatalf("AppendRaw changed its caller's data: %s", enc)
				}
			} else {
				ev, err = w.Append(c.typ, c.step, c.id, c.data)
			}
			if err != nil {
				t.Fatalf("%s: %v", c.typ, err)
			}
			if ev.Type != c.typ {
				t.Errorf("returned %s, want %s", ev.Type, c.typ)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return path, seen
	}
	viaAppend, seenAppend = write("append.jsonl", false)
	viaRaw, seenRaw = write("raw.jsonl", true)
	return viaAppend, viaRaw, seenAppend, seenRaw
}

// AppendRaw writes byte for byte what Append writes, sealed or not, with
// secrets redacted and noted types in their note; its journal reads back
// and verifies as Append's does.
func TestAppendRawWritesWhatAppendWrites(t *testing.T) {
	const secret = `tok-"quoted"-0123456789`
	for _, key := range []*Key{nil, NewKey([]byte("0123456789abcdef0123456789abcdef"))} {
		a, r, seenA, seenR := journalBothWays(t, key, secret)
		want, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Fatalf("sealed=%v line %d differs:\nAppendRaw %s\n   Append %s", key != nil, i+1, gl[i], wl[i])
				}
			}
			t.Fatalf("sealed=%v: %d lines, want %d", key != nil, len(gl), len(wl))
		}
		if bytes.Contains(got, []byte("0123456789\"")) || !bytes.Contains(got, []byte("[redacted]")) {
			t.Fatalf("the secret reached the journal: %s", got)
		}
		if !reflect.DeepEqual(seenR, seenA) {
			t.Errorf("subscribers of AppendRaw saw\n %+v\nof Append\n %+v", seenR, seenA)
		}
		if key != nil {
			if err := verifyFile(t, r, key); err != nil {
				t.Fatal(err)
			}
		} else { // unsealed: Verify stops at the missing seal, so check the chain here
			chain := genesis
			for i, l := range bytes.Split(bytes.TrimSpace(got), []byte("\n")) {
				body, c, _ := tail(l)
				if chain = next(chain, body); c == nil || string(c) != hex.EncodeToString(chain[:]) {
					t.Fatalf("line %d does not chain", i+1)
				}
			}
		}
		evs, err := ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		var scanned []Event
		if err := Scan(bytes.NewReader(got), func(ev Event) error {
			ev.Data = bytes.Clone(ev.Data)
			scanned = append(scanned, ev)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		cases := rawCases(secret)
		if len(evs) != len(cases) || !reflect.DeepEqual(scanned, evs) {
			t.Fatalf("read %d events, scanned %d, want %d", len(evs), len(scanned), len(cases))
		}
		for i, ev := range evs {
			c := cases[i]
			if ev.Seq != i+1 || ev.Type != c.typ || ev.ID != strings.ToValidUTF8(c.id, "\ufffd") ||
				ev.Step != strings.ToValidUTF8(c.step, "\ufffd") || (c.data == nil) != (ev.Data == nil) {
				t.Errorf("event %d read back as %+v", i+1, ev)
			}
		}
		var recs [][]int64
		if err := evs[9].Decode(&recs); err != nil || len(recs) != 2 || recs[1][2] != -5 {
			t.Errorf("records read back as %v, %v", recs, err)
		}
	}
}

// Empty data writes no data field, as Append(nil) does.
func TestAppendRawWithoutData(t *testing.T) {
	path := writeJournal(t, func(w *Writer) {
		w.AppendRaw(Applied, "3 flip", "c001", nil)
		w.AppendRaw(Applied, "3 flip", "c001", json.RawMessage{})
		w.Append(Applied, "3 flip", "c001", nil)
	})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i, l := range lines {
		body, _, _ := tail(l)
		if want := `{"seq":` + string(rune('1'+i)) + `,"at_ms":1500,"type":"applied","step":"3 flip","id":"c001"`; string(body) != want {
			t.Errorf("line %d: %s, want %s", i+1, body, want)
		}
	}
}
