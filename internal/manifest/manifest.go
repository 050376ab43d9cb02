// Package manifest seals an evidence bundle: manifest.json lists the SHA-256
// and size of every file in the bundle and the SHA-256 of the plan as run, so
// that a bundle changed after the drill (a report edited, a journal line
// dropped, a file added) is detected by Verify.
//
// A manifest proves integrity against accidents and casual edits, not
// against someone who rewrites manifest.json as well: the history store keeps
// each recorded bundle's manifest hash for that.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/regiondrill/regiondrill/internal/atomicfile"
	"github.com/regiondrill/regiondrill/internal/plan"
)

// Name is the manifest's file name inside a bundle.
const Name = "manifest.json"

// SchemaVersion identifies the manifest format.
const SchemaVersion = "regiondrill.manifest/v1"

// Manifest is the content of manifest.json.
type Manifest struct {
	Schema      string `json:"schema"`
	ToolVersion string `json:"tool_version"`
	// PlanSHA256 is the hash of the plan as run: report.json's plan in
	// compact JSON. Runs of the same plan share it (history and compare
	// match baselines on it).
	PlanSHA256 string `json:"plan_sha256"`
	// PlanKey identifies what the plan drills (plan.Key: defaults and the
	// regression block left out); history baselines match on it. It depends
	// on the defaults of the release that wrote it, so Verify leaves it be.
	PlanKey string `json:"plan_key,omitempty"`
	Files   []File `json:"files"` // sorted by path
}

// File is one file of the bundle.
type File struct {
	Path   string `json:"path"` // slash-separated, relative to the bundle
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Problem kinds found by Verify.
const (
	Changed  = "changed"  // content differs from the manifest
	Appended = "appended" // the sealed content is intact and more was written after it (e.g. rollback appending to a journal)
	Missing  = "missing"  // listed but absent
	Unlisted = "unlisted" // present but not in the manifest
	BadPlan  = "plan"     // report.json's plan does not hash to plan_sha256
)

// Problem is one mismatch between a bundle and its manifest.
type Problem struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	Msg  string `json:"msg"`
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// ErrNoManifest is returned when a bundle has no manifest.json.
var ErrNoManifest = errors.New("no " + Name + " in the bundle")

// MismatchError lists what Verify found wrong; errors.As reaches it.
type MismatchError struct {
	Dir      string
	Problems []Problem
}

func (e *MismatchError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("%s does not match its manifest: %s", e.Dir, strings.Join(parts, "; "))
}

// PlanHash is the SHA-256 of a plan's compact JSON, in hex.
func PlanHash(plan json.RawMessage) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, plan); err != nil {
		return "", fmt.Errorf("manifest: plan is not JSON: %w", err)
	}
	return hexSum(b.Bytes()), nil
}

// ReportPlanHash reads a report.json file and hashes its plan.
func ReportPlanHash(reportJSON string) (string, error) {
	return reportPlan(reportJSON, PlanHash)
}

// ReportPlanKey reads a report.json file and returns its plan's key.
func ReportPlanKey(reportJSON string) (string, error) {
	return reportPlan(reportJSON, func(p json.RawMessage) (string, error) { return plan.Key(p) })
}

func reportPlan(reportJSON string, hash func(json.RawMessage) (string, error)) (string, error) {
	data, err := os.ReadFile(reportJSON)
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	var r struct {
		Plan json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return "", fmt.Errorf("manifest: %s: %w", reportJSON, err)
	}
	if len(r.Plan) == 0 {
		return "", fmt.Errorf("manifest: %s has no plan", reportJSON)
	}
	return hash(r.Plan)
}

// Build hashes every file under dir except manifest.json and hidden files
// (the report writers' temporary files start with a dot). The plan hash is
// taken from dir/report.json.
func Build(dir, toolVersion string) (*Manifest, error) {
	planHash, err := ReportPlanHash(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil, err
	}
	planKey, err := ReportPlanKey(filepath.Join(dir, "report.json"))
	if err != nil {
		return nil, err
	}
	files, err := scan(dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Schema: SchemaVersion, ToolVersion: toolVersion, PlanSHA256: planHash, PlanKey: planKey, Files: []File{}}
	for _, rel := range files {
		f, err := hashFile(dir, rel)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, f)
	}
	return m, nil
}

// Write builds the manifest of dir and writes it to dir/manifest.json
// atomically. Call it last: any file written into dir afterwards is
// reported by Verify as unlisted.
func Write(dir, toolVersion string) (*Manifest, error) {
	m, err := Build(dir, toolVersion)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, Name), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

// Read decodes dir/manifest.json.
func Read(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, Name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %s: %w", filepath.Join(dir, Name), err)
	}
	if m.Schema != SchemaVersion {
		return nil, fmt.Errorf("manifest: %s: schema %q, want %q", filepath.Join(dir, Name), m.Schema, SchemaVersion)
	}
	return &m, nil
}

// Digest is the SHA-256 of dir/manifest.json as stored, in hex: one value
// that pins the whole bundle.
func Digest(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, Name))
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	return hexSum(data), nil
}

// Verify checks dir against its manifest.json: every listed file present
// with the same size and hash, no other file, and report.json's plan hashing
// to plan_sha256. It returns the manifest and, when anything differs, a
// *MismatchError naming each file.
func Verify(dir string) (*Manifest, error) {
	m, err := Read(dir)
	if err != nil {
		return nil, err
	}
	var probs []Problem
	listed := map[string]bool{}
	for _, want := range m.Files {
		listed[want.Path] = true
		if !local(want.Path) {
			probs = append(probs, Problem{want.Path, Changed, "path leaves the bundle"})
			continue
		}
		got, err := hashFile(dir, want.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			probs = append(probs, Problem{want.Path, Missing, "listed in the manifest but missing"})
		case err != nil:
			probs = append(probs, Problem{want.Path, Changed, err.Error()})
		case got.Size > want.Size && prefixIs(dir, want):
			probs = append(probs, Problem{want.Path, Appended, fmt.Sprintf("grew after the manifest was written: its first %d bytes are as sealed, %d bytes were appended",
				want.Size, got.Size-want.Size)})
		case got.SHA256 != want.SHA256 || got.Size != want.Size:
			probs = append(probs, Problem{want.Path, Changed, fmt.Sprintf("changed since the manifest was written (%d bytes, sha256 %s; manifest: %d bytes, %s)",
				got.Size, short(got.SHA256), want.Size, short(want.SHA256))})
		}
	}
	files, err := scan(dir)
	if err != nil {
		return m, err
	}
	for _, f := range files {
		if !listed[f] {
			probs = append(probs, Problem{f, Unlisted, "not in the manifest (added after the bundle was sealed)"})
		}
	}
	if h, err := ReportPlanHash(filepath.Join(dir, "report.json")); err != nil {
		probs = append(probs, Problem{"report.json", BadPlan, err.Error()})
	} else if h != m.PlanSHA256 {
		probs = append(probs, Problem{"report.json", BadPlan, fmt.Sprintf("plan hashes to %s, manifest says %s", short(h), short(m.PlanSHA256))})
	}
	if len(probs) > 0 {
		return m, &MismatchError{Dir: dir, Problems: dedupe(probs)}
	}
	return m, nil
}

// dedupe keeps the first problem per path and kind.
func dedupe(ps []Problem) []Problem {
	seen := map[[2]string]bool{}
	out := ps[:0]
	for _, p := range ps {
		k := [2]string{p.Path, p.Kind}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// scan lists the regular files under dir, relative and slash-separated,
// sorted, without manifest.json and hidden files.
func scan(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || rel == Name {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

func hashFile(dir, rel string) (File, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("manifest: hash %s: %w", rel, err)
	}
	return File{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// prefixIs reports whether the file's first want.Size bytes hash to
// want.SHA256: what was sealed is still there, unchanged.
func prefixIs(dir string, want File) bool {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(want.Path)))
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if n, err := io.CopyN(h, f, want.Size); err != nil || n != want.Size {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == want.SHA256
}

// local reports whether a manifest path stays inside the bundle.
func local(rel string) bool {
	return filepath.IsLocal(filepath.FromSlash(rel))
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
