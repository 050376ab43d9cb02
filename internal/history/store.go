// Package history keeps every drill run: its verdict, plan hash, target,
// tool version, timing, each acceptance target's measured value and the path
// of its evidence bundle, in an embedded SQLite database (pure Go, no cgo) in
// the user's state directory, or in a PostgreSQL database that CI runners
// share. Only bundles whose manifest verifies are recorded.
package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// Store is an open history.
type Store struct {
	db           *sql.DB
	d            dialect
	where        string // the file or the redacted URL, for messages
	upgradedFrom int
}

// ErrNotFound is returned for a run id or baseline that does not exist.
var ErrNotFound = errors.New("no such run in the history")

// Locate says where the history lives: the --history flag, else
// REGIONDRILL_HISTORY, else history.db in REGIONDRILL_STATE_DIR, else in
// $XDG_STATE_HOME/regiondrill, else in ~/.local/state/regiondrill.
func Locate(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if v := getenv("REGIONDRILL_HISTORY"); v != "" {
		return v, nil
	}
	if d := getenv("REGIONDRILL_STATE_DIR"); d != "" {
		return filepath.Join(d, "history.db"), nil
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "regiondrill", "history.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("history: no state directory: set REGIONDRILL_STATE_DIR or --history: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "regiondrill", "history.db"), nil
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating if needed) the history at dsn, a postgres:// URL or
// a SQLite file path, and migrates it to the current schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{where: dsn}
	var err error
	if IsPostgres(dsn) {
		s.d, s.where = postgres, redact(dsn)
		s.db, err = sql.Open("pgx", dsn)
	} else {
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		s.db, err = sql.Open("sqlite", "file:"+dsn+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	}
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", s.where, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("history: open %s: %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Where is the store's file or its URL without the password.
func (s *Store) Where() string { return s.where }

// UpgradedFrom is the schema version the store had when it was opened (0
// for a new store).
func (s *Store) UpgradedFrom() int { return s.upgradedFrom }

func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				return dsn[:i+3+c] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}

// Run is one recorded drill run.
type Run struct {
	ID             int64           `json:"id"`
	Started        time.Time       `json:"started"`
	DurationS      float64         `json:"duration_s"`
	Verdict        verdict.Outcome `json:"verdict"`
	Reason         string          `json:"reason,omitempty"`
	Drills         []string        `json:"drills"`
	Target         string          `json:"target"`      // what was drilled: lab or the edge URL
	PlanSHA256     string          `json:"plan_sha256"` // the plan as run
	PlanKey        string          `json:"plan_key"`    // what the plan drills (plan.Key); baselines match on it
	ManifestSHA256 string          `json:"manifest_sha256"`
	ToolVersion    string          `json:"tool_version"`
	Bundle         string          `json:"bundle"` // absolute path of the evidence directory
	Summary        Summary         `json:"summary"`
	Targets        []Value         `json:"targets"`
}

// Value is one acceptance target's measured value in a run.
type Value struct {
	Drill  string   `json:"drill"`
	ID     string   `json:"id"`
	Value  *float64 `json:"value"` // nil when the value is not a number
	Text   string   `json:"text"`  // the value as the report prints it
	Pass   bool     `json:"pass"`
	Target string   `json:"target,omitempty"` // threshold, e.g. "≤ 30 s"
}

// Summary is the part of report.json kept beside the columns.
type Summary struct {
	StopReason string       `json:"stop_reason,omitempty"`
	CutoverS   *float64     `json:"cutover_s"`
	Failed     []string     `json:"failed"`    // "B cutover_s", in report order
	Diagnoses  []string     `json:"diagnoses"` // diagnosis ids
	Writes     WritesTotals `json:"writes"`
	Webhooks   WebhookTotal `json:"webhooks"`
	SLO        verdict.SLO  `json:"slo"`
}

// WritesTotals is the write ledger without its examples.
type WritesTotals struct {
	Attempted, Acknowledged, OK, Lost, Duplicates, Unexpected, Indeterminate, SplitBrain int
}

// WebhookTotal is the webhook reconciliation without the per-region map.
type WebhookTotal struct {
	Expected, Delivered, Missing, Duplicates, FromDisallowedRegion int
}

// Record stores a run and returns its id. A run whose bundle and manifest
// digest are already recorded is not stored twice: its existing id is
// returned.
func (s *Store) Record(ctx context.Context, r *Run) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.d.bind(`SELECT id FROM runs WHERE bundle = ? AND manifest_sha256 = ?`), r.Bundle, r.ManifestSHA256).Scan(&id)
	if err == nil {
		r.ID = id
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("history: record: %w", err)
	}
	sum, err := json.Marshal(r.Summary)
	if err != nil {
		return 0, fmt.Errorf("history: record: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("history: record: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	err = tx.QueryRowContext(ctx, s.d.bind(`INSERT INTO runs (started_ms, duration_s, verdict, reason, drills, target, plan_sha256,
		tool_version, bundle, summary, recorded_ms, manifest_sha256, plan_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		r.Started.UnixMilli(), r.DurationS, string(r.Verdict), r.Reason, strings.Join(r.Drills, ""), r.Target, r.PlanSHA256,
		r.ToolVersion, r.Bundle, string(sum), time.Now().UnixMilli(), r.ManifestSHA256, r.PlanKey).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("history: record: %w", err)
	}
	for i, v := range r.Targets {
		var num sql.NullFloat64
		if v.Value != nil {
			num = sql.NullFloat64{Float64: *v.Value, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, s.d.bind(`INSERT INTO run_targets (run_id, seq, drill, target, value, value_text, pass, threshold) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			id, i, v.Drill, v.ID, num, v.Text, v.Pass, v.Target); err != nil {
			return 0, fmt.Errorf("history: record target %s: %w", v.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("history: record: %w", err)
	}
	r.ID = id
	return id, nil
}

// Filter selects runs for List. Zero fields select everything.
type Filter struct {
	Target string // what was drilled: lab or the edge URL
	Drill  string // a drill letter the run included
	Plan   string // a plan key or plan hash, or a prefix of either
	Last   int    // only the newest Last runs
}

const runColumns = `id, started_ms, duration_s, verdict, reason, drills, target, plan_sha256, tool_version, bundle, summary, manifest_sha256, plan_key`

// List returns the runs matching f, oldest first, with their targets.
func (s *Store) List(ctx context.Context, f Filter) ([]*Run, error) {
	var where []string
	var args []any
	if f.Target != "" {
		where, args = append(where, "target = ?"), append(args, f.Target)
	}
	if f.Drill != "" {
		where, args = append(where, "drills LIKE ?"), append(args, "%"+strings.ToUpper(f.Drill)+"%")
	}
	if f.Plan != "" {
		where, args = append(where, "(plan_key LIKE ? OR plan_sha256 LIKE ?)"), append(args, f.Plan+"%", f.Plan+"%")
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_ms DESC, id DESC"
	if f.Last > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Last)
	}
	runs, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs, s.loadTargets(ctx, runs)
}

// Get returns one run by id.
func (s *Store) Get(ctx context.Context, id int64) (*Run, error) {
	runs, err := s.query(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("history: run %d: %w", id, ErrNotFound)
	}
	return runs[0], s.loadTargets(ctx, runs)
}

// LastPass returns the newest passing run of the plan (by plan key) against
// the target that started before before: the baseline of a run that started
// then.
func (s *Store) LastPass(ctx context.Context, planKey, target string, before time.Time) (*Run, error) {
	runs, err := s.query(ctx, `SELECT `+runColumns+` FROM runs WHERE plan_key = ? AND target = ? AND verdict = ? AND started_ms < ?
		ORDER BY started_ms DESC, id DESC LIMIT 1`, planKey, target, string(verdict.Pass), before.UnixMilli())
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("history: no passing run of plan %.12s against %s before %s: %w", planKey, target, before.UTC().Format(time.RFC3339), ErrNotFound)
	}
	return runs[0], s.loadTargets(ctx, runs)
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]*Run, error) {
	rows, err := s.db.QueryContext(ctx, s.d.bind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		var (
			r       Run
			ms      int64
			v       string
			drills  string
			summary string
		)
		if err := rows.Scan(&r.ID, &ms, &r.DurationS, &v, &r.Reason, &drills, &r.Target, &r.PlanSHA256, &r.ToolVersion, &r.Bundle, &summary, &r.ManifestSHA256, &r.PlanKey); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		r.Started, r.Verdict = time.UnixMilli(ms).UTC(), verdict.Outcome(v)
		r.Drills = strings.Split(drills, "")
		if err := json.Unmarshal([]byte(summary), &r.Summary); err != nil {
			return nil, fmt.Errorf("history: run %d: summary: %w", r.ID, err)
		}
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// loadTargets fills each run's Targets with one query.
func (s *Store) loadTargets(ctx context.Context, runs []*Run) error {
	if len(runs) == 0 {
		return nil
	}
	byID := map[int64]*Run{}
	marks := make([]string, len(runs))
	args := make([]any, len(runs))
	for i, r := range runs {
		byID[r.ID], marks[i], args[i] = r, "?", r.ID
		r.Targets = []Value{}
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT run_id, drill, target, value, value_text, pass, threshold FROM run_targets
		WHERE run_id IN (`+strings.Join(marks, ", ")+`) ORDER BY run_id, seq`), args...)
	if err != nil {
		return fmt.Errorf("history: targets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id  int64
			v   Value
			num sql.NullFloat64
		)
		if err := rows.Scan(&id, &v.Drill, &v.ID, &num, &v.Text, &v.Pass, &v.Target); err != nil {
			return fmt.Errorf("history: targets: %w", err)
		}
		if num.Valid {
			f := num.Float64
			v.Value = &f
		}
		byID[id].Targets = append(byID[id].Targets, v)
	}
	return rows.Err()
}
