package history_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/fixture"
	"github.com/regiondrill/regiondrill/internal/history"
	"github.com/regiondrill/regiondrill/internal/manifest"
)

func record(t *testing.T, s *history.Store, dir string) int64 {
	t.Helper()
	r, _, err := history.FromBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Record(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// backends runs test on a fresh store of each kind: SQLite in a temp dir,
// and a new database on a real PostgreSQL server (skipped when PostgreSQL is
// not installed).
func backends(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, filepath.Join(t.TempDir(), "state", "history.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, postgresDB(t)) })
}

// open opens dsn and closes it when the test ends.
func open(t *testing.T, dsn string) *history.Store {
	t.Helper()
	s, err := history.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRecordListGetLastPass(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		if v, _ := s.Version(ctx); v != history.SchemaVersion || s.UpgradedFrom() != 0 {
			t.Fatalf("new store at version %d, upgraded from %d", v, s.UpgradedFrom())
		}
		passB := record(t, s, fixture.Bundle(t, "b-pass-1.json", 0))
		failA := record(t, s, fixture.Bundle(t, "a-cold-start-fail.json", time.Hour))
		passB2dir := fixture.Bundle(t, "b-pass-1.json", 2*time.Hour)
		passB2 := record(t, s, passB2dir)
		if again := record(t, s, passB2dir); again != passB2 {
			t.Fatalf("recording the same bundle twice gave ids %d and %d", passB2, again)
		}

		all, err := s.List(ctx, history.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0].ID != passB || all[2].ID != passB2 {
			t.Fatalf("list: %d runs, ids %v", len(all), ids(all))
		}
		b := all[0]
		if b.Verdict != "pass" || b.Target != "lab" || len(b.PlanSHA256) != 64 || len(b.PlanKey) != 64 || b.PlanKey == b.PlanSHA256 || b.ToolVersion != "v-test" || len(b.ManifestSHA256) != 64 ||
			!filepath.IsAbs(b.Bundle) || b.Summary.CutoverS == nil || len(b.Targets) != 11 {
			t.Fatalf("run %+v", b)
		}
		if c := b.Targets[0]; c.ID != "cutover_s" || c.Value == nil || *c.Value != 0.725 || !c.Pass || c.Target != "≤ 30 s" {
			t.Fatalf("first target %+v", c)
		}
		if l := b.Targets[6]; l.ID != "index_hash_parity" || l.Value != nil || l.Text != "1 distinct" {
			t.Fatalf("text target %+v", l)
		}

		onlyA, _ := s.List(ctx, history.Filter{Drill: "a"})
		last2, _ := s.List(ctx, history.Filter{Last: 2})
		none, _ := s.List(ctx, history.Filter{Target: "http://elsewhere"})
		if len(onlyA) != 1 || onlyA[0].ID != failA || len(last2) != 2 || last2[0].ID != failA || len(none) != 0 {
			t.Fatalf("filters: drill A %v, last 2 %v, other target %v", ids(onlyA), ids(last2), ids(none))
		}
		f, _ := s.Get(ctx, failA)
		if f.Verdict != "fail" || !strings.Contains(strings.Join(f.Summary.Diagnoses, ","), "cold_start_storm") || len(f.Summary.Failed) == 0 {
			t.Fatalf("failing run %+v", f.Summary)
		}
		if _, err := s.Get(ctx, 999); !errors.Is(err, history.ErrNotFound) {
			t.Fatalf("missing id: %v", err)
		}
		b2, _ := s.Get(ctx, passB2)
		lp, err := s.LastPass(ctx, b.PlanKey, "lab", b2.Started)
		if err != nil || lp.ID != passB {
			t.Fatalf("last pass before run %d: %v %v", passB2, lp, err)
		}
		if lp, _ := s.LastPass(ctx, b.PlanKey, "lab", b2.Started.Add(time.Second)); lp.ID != passB2 {
			t.Fatalf("last pass: %d", lp.ID)
		}
		if _, err := s.LastPass(ctx, b.PlanKey, "lab", b.Started); !errors.Is(err, history.ErrNotFound) {
			t.Fatalf("nothing passed before the first run: %v", err)
		}
		if _, err := s.LastPass(ctx, f.PlanKey, "lab", time.Now()); !errors.Is(err, history.ErrNotFound) {
			t.Fatalf("a plan that never passed has no baseline: %v", err)
		}
	})
}

func ids(rs []*history.Run) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// The history refuses evidence that does not verify.
func TestRefusesUnverifiedBundle(t *testing.T) {
	dir := fixture.Bundle(t, "b-pass-1.json", 0)
	if err := os.WriteFile(filepath.Join(dir, "journal.jsonl"), []byte("{\"edited\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := history.FromBundle(dir)
	if !errors.Is(err, history.ErrUnverified) || !strings.Contains(err.Error(), "journal.jsonl") {
		t.Fatalf("tampered bundle: %v", err)
	}
	unsealed := t.TempDir()
	_, _, err = history.FromBundle(unsealed)
	if !errors.Is(err, history.ErrUnverified) || !errors.Is(err, manifest.ErrNoManifest) {
		t.Fatalf("bundle without a manifest: %v", err)
	}
}

// v1 is the schema as the first release wrote it, kept here by hand: an
// upgrade must start from what was really on disk, not from the code's
// current idea of version 1.
var v1 = []string{
	`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`,
	`CREATE TABLE runs (id {{id}}, started_ms BIGINT NOT NULL, duration_s DOUBLE PRECISION NOT NULL, verdict TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '', drills TEXT NOT NULL, target TEXT NOT NULL, plan_sha256 TEXT NOT NULL,
		tool_version TEXT NOT NULL, bundle TEXT NOT NULL, summary TEXT NOT NULL, recorded_ms BIGINT NOT NULL)`,
	`CREATE TABLE run_targets (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
		drill TEXT NOT NULL, target TEXT NOT NULL, value DOUBLE PRECISION, value_text TEXT NOT NULL, pass BOOLEAN NOT NULL,
		PRIMARY KEY (run_id, seq))`,
	`CREATE INDEX runs_started ON runs (started_ms)`,
	`INSERT INTO schema_migrations VALUES (1, 'runs and their targets', 1700000000000)`,
	`INSERT INTO runs (started_ms, duration_s, verdict, drills, target, plan_sha256, tool_version, bundle, summary, recorded_ms)
		VALUES (1700000000000, 41.5, 'pass', 'B', 'lab', 'aaaa', 'v0.1.0', '/evidence/old', '{"cutover_s":0.9,"failed":[],"diagnoses":[]}', 1700000050000)`,
	`INSERT INTO run_targets VALUES (1, 0, 'B', 'cutover_s', 0.9, '0.9', TRUE)`,
}

// A store written by the v1 schema is upgraded in place; its run is kept.
func TestUpgradeFromV1(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		driver, src, id := "sqlite", "file:"+dsn, "INTEGER PRIMARY KEY AUTOINCREMENT"
		if history.IsPostgres(dsn) {
			driver, src, id = "pgx", dsn, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
		} else if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open(driver, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range v1 {
			if _, err := db.ExecContext(ctx, strings.ReplaceAll(st, "{{id}}", id)); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
		db.Close()

		s := open(t, dsn)
		if v, _ := s.Version(ctx); v != history.SchemaVersion || s.UpgradedFrom() != 1 {
			t.Fatalf("version %d, upgraded from %d", v, s.UpgradedFrom())
		}
		old, err := s.Get(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if old.Bundle != "/evidence/old" || old.ToolVersion != "v0.1.0" || old.ManifestSHA256 != "" || len(old.Targets) != 1 ||
			*old.Targets[0].Value != 0.9 || old.Targets[0].Target != "" || *old.Summary.CutoverS != 0.9 {
			t.Fatalf("v1 run after upgrade: %+v %+v", old, old.Targets)
		}
		// New runs go in beside it, with the new columns.
		nid := record(t, s, fixture.Bundle(t, "b-pass-1.json", 0))
		n, _ := s.Get(ctx, nid)
		if nid == 1 || n.ManifestSHA256 == "" || n.Targets[0].Target == "" {
			t.Fatalf("new run %d: %+v", nid, n)
		}
		// Opening again changes nothing.
		if s2 := open(t, dsn); s2.UpgradedFrom() != history.SchemaVersion {
			t.Fatalf("reopened store upgraded from %d", s2.UpgradedFrom())
		}
	})
}

// A store from a newer regiondrill is refused, not rewritten.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "history.db")
	open(t, dsn).Close()
	db, _ := sql.Open("sqlite", "file:"+dsn)
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (99, 'from the future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := history.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "newer regiondrill") {
		t.Fatalf("got %v", err)
	}
}

func TestLocate(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		flag string
		env  func(string) string
		want string
	}{
		{"postgres://ci@db/regiondrill", env("REGIONDRILL_HISTORY", "/x.db"), "postgres://ci@db/regiondrill"},
		{"", env("REGIONDRILL_HISTORY", "postgres://h/db", "REGIONDRILL_STATE_DIR", "/s"), "postgres://h/db"},
		{"", env("REGIONDRILL_STATE_DIR", "/s", "XDG_STATE_HOME", "/x"), "/s/history.db"},
		{"", env("XDG_STATE_HOME", "/x", "HOME", "/home/u"), "/x/regiondrill/history.db"},
		{"", env("HOME", "/home/u"), "/home/u/.local/state/regiondrill/history.db"},
	}
	for _, c := range cases {
		if got, err := history.Locate(c.flag, c.env); err != nil || got != c.want {
			t.Errorf("Locate(%q) = %q, %v; want %q", c.flag, got, err, c.want)
		}
	}
}
