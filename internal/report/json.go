package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/regiondrill/regiondrill/internal/verdict"
)

// WriteJSON writes r as indented JSON with the schema version set. Empty
// lists are written as [] rather than null so readers need no special case.
func WriteJSON(w io.Writer, r *verdict.Report) error {
	c := *r
	if c.Schema == "" {
		c.Schema = verdict.SchemaVersion
	}
	if c.Drills == nil {
		c.Drills = []string{}
	}
	if c.Acceptance == nil {
		c.Acceptance = []verdict.Target{}
	}
	if c.Checks == nil {
		c.Checks = []verdict.Check{}
	}
	if c.Diagnoses == nil {
		c.Diagnoses = []verdict.Diagnosis{}
	}
	if c.Probes == nil {
		c.Probes = []verdict.Probe{}
	}
	if c.Steps == nil {
		c.Steps = []verdict.Step{}
	}
	if c.Events == nil {
		c.Events = []verdict.Event{}
	}
	if c.Series == nil {
		c.Series = []verdict.Second{}
	}
	if c.RegionNames == nil {
		c.RegionNames = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}
