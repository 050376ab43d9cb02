package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sealedJournal(t *testing.T, key *Key, opts ...Option) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	w, err := Create(path, time.Unix(0, 0), nil, append([]Option{SealWith(key)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(RunStart, "", "", map[string]any{"origin": time.Unix(0, 0)})
	w.Append(Intent, "2 evacuate", "c001", map[string]any{"do": map[string]any{"kind": "hook", "argv": []string{"true"}}})
	w.Append(Applied, "2 evacuate", "c001", nil)
	w.Append(Note, "", "", "last")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func verifyFile(t *testing.T, path string, key *Key) error {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, key)
}

func TestSealedJournalVerifiesAndIsPrivate(t *testing.T) {
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	path := sealedJournal(t, key)
	if err := verifyFile(t, path, key); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %s, want 0600", st.Mode().Perm())
	}
	evs, err := ReadFile(path)
	if err != nil || len(evs) != 4 || evs[1].ID != "c001" || string(evs[3].Data) != `"last"` {
		t.Fatalf("read back %+v, %v", evs, err)
	}
}

// Every way of changing a sealed journal is caught, naming the line.
func TestVerifyNamesTheTamperedLine(t *testing.T) {
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	other := NewKey([]byte("fedcba9876543210fedcba9876543210"))
	path := sealedJournal(t, key)
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1]
	edit := func(f func([]string) []string) string {
		p := filepath.Join(t.TempDir(), "j.jsonl")
		_ = os.WriteFile(p, []byte(strings.Join(f(append([]string(nil), lines...)), "")), 0o600)
		return p
	}
	cases := []struct {
		name string
		path string
		key  *Key
		kind error
		line int
	}{
		{"argv changed", edit(func(l []string) []string { l[1] = strings.Replace(l[1], `"true"`, `"evil"`, 1); return l }), key, ErrTampered, 2},
		{"line removed", edit(func(l []string) []string { return append(l[:1], l[2:]...) }), key, ErrTampered, 2},
		{"lines swapped", edit(func(l []string) []string { l[2], l[3] = l[3], l[2]; return l }), key, ErrTampered, 3},
		{"unchained line added", edit(func(l []string) []string {
			return append(l, `{"seq":5,"at_ms":0,"type":"intent","id":"c002","data":{}}`+"\n")
		}), key, ErrTampered, 5},
		{"foreign key", path, other, ErrForeign, 1},
		{"no key", path, nil, ErrUnsealed, 1},
	}
	// A chain recomputed without the key still fails on the seal.
	forged := NewKey([]byte("an attacker's key, not the user's"))
	fp := filepath.Join(t.TempDir(), "forged.jsonl")
	fw, _ := Create(fp, time.Unix(0, 0), nil, SealWith(forged))
	fw.Append(RunStart, "", "", map[string]any{"origin": time.Unix(0, 0)})
	fw.Close()
	cases = append(cases, struct {
		name string
		path string
		key  *Key
		kind error
		line int
	}{"sealed by someone else", fp, key, ErrForeign, 1})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := verifyFile(t, c.path, c.key)
			var ie *IntegrityError
			if !errors.As(err, &ie) || !errors.Is(err, c.kind) || ie.Line != c.line {
				t.Fatalf("verify: %v, want %v at line %d", err, c.kind, c.line)
			}
		})
	}
}

// Journals written before sealing still read (reports) and are reported
// unsealed by Verify.
func TestOldJournalsReadAndAreUnsealed(t *testing.T) {
	old := `{"seq":1,"at_ms":0,"type":"run_start","data":{"origin":"1970-01-01T00:00:00Z"}}` + "\n" +
		`{"seq":2,"at_ms":5,"type":"note","data":{"a":1}}` + "\n"
	evs, err := Read(strings.NewReader(old))
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if err := Verify(strings.NewReader(old), NewKey(make([]byte, 32))); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("old journal: %v, want unsealed", err)
	}
	if Sealed(strings.NewReader(old)) {
		t.Fatal("old journal reported sealed")
	}
}

func TestOpenAppendContinuesTheChainAndCutsATornLine(t *testing.T) {
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	path := sealedJournal(t, key)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":5,"at_ms":9,"type":"no`) // a crash mid-write, or a drill still writing
	f.Close()
	torn, _ := os.ReadFile(path)
	w, _, _, err := OpenAppend(path, nil, SealWith(key))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if b, _ := os.ReadFile(path); !bytes.Equal(b, torn) {
		t.Fatal("opening to append, and appending nothing, changed the file")
	}
	w, evs, trust, err := OpenAppend(path, nil, SealWith(key))
	if err != nil || trust != nil || len(evs) != 4 {
		t.Fatalf("open: %d events, trust %v, err %v", len(evs), trust, err)
	}
	if _, err := w.Append(RunEnd, "", "", map[string]string{"outcome": "rolled_back"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := verifyFile(t, path, key); err != nil {
		t.Fatalf("after append: %v", err)
	}
	evs, err = ReadFile(path)
	if err != nil || len(evs) != 5 || evs[4].Seq != 5 || evs[4].Type != RunEnd {
		t.Fatalf("after append: %+v, %v", evs, err)
	}
}

func TestKeyIsCreatedOnceAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	t.Setenv("REGIONDRILL_STATE_DIR", dir)
	d, err := StateDir()
	if err != nil || d != dir {
		t.Fatalf("state dir %q, %v", d, err)
	}
	k1, err := LoadKey("")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKey("")
	if err != nil || !bytes.Equal(k1.b, k2.b) {
		t.Fatalf("second load: %v (same key: %v)", err, err == nil && bytes.Equal(k1.b, k2.b))
	}
	st, _ := os.Stat(filepath.Join(dir, keyFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %s", st.Mode().Perm())
	}
	_ = os.Chmod(filepath.Join(dir, keyFile), 0o644)
	if _, err := LoadKey(""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key was used: %v", err)
	}
}

func TestRedactKeepsSecretsOutOfTheFile(t *testing.T) {
	key := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	secret := `tok-"quoted"-0123456789`
	path := filepath.Join(t.TempDir(), "j.jsonl")
	w, _ := Create(path, time.Unix(0, 0), nil, SealWith(key), Redact(secret, "short"))
	var seen []Event
	w.Subscribe(func(ev Event) { seen = append(seen, ev) })
	w.Append(RunStart, "", "", map[string]any{"origin": time.Unix(0, 0), "token": secret, "err": "Bearer " + secret})
	w.Close()
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("0123456789\"")) || bytes.Contains(b, []byte(`\"quoted\"`)) || !bytes.Contains(b, []byte("[redacted]")) {
		t.Fatalf("secret in the journal: %s", b)
	}
	if len(seen) != 1 || bytes.Contains(seen[0].Data, []byte("quoted")) {
		t.Fatalf("observers saw the secret: %s", seen[0].Data)
	}
	if err := verifyFile(t, path, key); err != nil {
		t.Fatal(err)
	}
}
