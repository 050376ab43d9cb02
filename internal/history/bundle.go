package history

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/regiondrill/regiondrill/internal/compare"
	"github.com/regiondrill/regiondrill/internal/manifest"
	"github.com/regiondrill/regiondrill/internal/plan"
	"github.com/regiondrill/regiondrill/internal/verdict"
)

// ErrUnverified wraps the reason a bundle was refused: the history records
// only evidence whose manifest verifies.
var ErrUnverified = errors.New("the bundle does not verify")

// FromBundle reads an evidence directory into a Run, after checking it
// against its manifest; a bundle without a manifest or with a changed file
// is refused with ErrUnverified.
func FromBundle(dir string) (*Run, *verdict.Report, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	m, err := manifest.Verify(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("history: refusing %s: %w: %w", dir, ErrUnverified, err)
	}
	digest, err := manifest.Digest(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	rep, err := compare.Load(filepath.Join(abs, "report.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	r := FromReport(rep)
	r.Bundle, r.PlanSHA256, r.PlanKey, r.ManifestSHA256, r.ToolVersion = abs, m.PlanSHA256, m.PlanKey, digest, m.ToolVersion
	if r.PlanKey == "" { // sealed before manifests carried the key
		if r.PlanKey, err = plan.Key(rep.Plan); err != nil {
			return nil, nil, fmt.Errorf("history: %w", err)
		}
	}
	return r, rep, nil
}

// FromReport is the part of a Run that a report holds.
func FromReport(rep *verdict.Report) *Run {
	r := &Run{Started: rep.Started, DurationS: rep.DurationS, Verdict: rep.Verdict, Reason: rep.Reason,
		Drills: append([]string{}, rep.Drills...), Target: rep.Target, Targets: []Value{}}
	w, h := rep.Writes, rep.Webhooks
	r.Summary = Summary{StopReason: rep.StopReason, CutoverS: rep.CutoverS, SLO: rep.SLO, Failed: []string{}, Diagnoses: []string{},
		Writes:   WritesTotals{w.Attempted, w.Acknowledged, w.OK, w.Lost, w.Duplicates, w.Unexpected, w.Indeterminate, w.SplitBrain},
		Webhooks: WebhookTotal{h.Expected, h.Delivered, h.Missing, h.Duplicates, h.FromDisallowedRegion}}
	for _, t := range rep.Acceptance {
		v := Value{Drill: t.Drill, ID: t.ID, Text: fmt.Sprint(t.Value), Pass: t.Pass, Target: t.Target}
		if f, ok := compare.Number(t.Value); ok {
			v.Value = &f
		}
		r.Targets = append(r.Targets, v)
		if !t.Pass {
			r.Summary.Failed = append(r.Summary.Failed, t.Drill+" "+t.ID)
		}
	}
	for _, d := range rep.Diagnoses {
		r.Summary.Diagnoses = append(r.Summary.Diagnoses, d.ID)
	}
	return r
}
