package plan

import (
	"fmt"
	"slices"
	"strings"
)

// DrillKind is one drill kind by name ("planned_evacuation"); Letter gives
// the page's letter.
type DrillKind string

// DrillInfo is one row of the drill registry: what a plan knows of a drill
// kind. The kinds register themselves, one file each (package kind):
// validation, the JSON Schema and docs/PLAN.md's table derive from what
// they register.
type DrillInfo struct {
	Kind        DrillKind
	Letter      string
	Description string
	Faults      string // why the kind needs targets.faults, a fault control API ("" when it does not)
	Sink        string // why the kind needs targets.sink, or a waiver of it ("" when it does not)
}

func (d DrillInfo) value() DrillKind { return d.Kind }

// aliases: the letter, in either case.
func (d DrillInfo) aliases() []string { return []string{d.Letter, strings.ToLower(d.Letter)} }

// registered are the drill kinds, by letter.
var registered Registry[DrillKind, DrillInfo]

// RegisterDrill adds a drill kind. Package kind calls it once for each kind
// it registers, before anything reads a plan; a second kind with the same
// letter or name is a programming error.
func RegisterDrill(d DrillInfo) {
	if d.Kind == "" || d.Letter == "" || d.Letter != strings.ToUpper(d.Letter) {
		panic(fmt.Sprintf("plan: drill kind %q with letter %q: both are required, the letter upper case", d.Kind, d.Letter))
	}
	for _, r := range registered {
		if r.Kind == d.Kind || r.Letter == d.Letter {
			panic(fmt.Sprintf("plan: drill kind %s (%s) registered twice", d.Kind, d.Letter))
		}
	}
	registered = append(registered, d)
	slices.SortFunc(registered, func(a, b DrillInfo) int { return strings.Compare(a.Letter, b.Letter) })
}

// Drills is the drill registry: the kinds registered, by letter. Without
// any (a program that does not import package kind) it panics: every plan
// would be refused.
func Drills() Registry[DrillKind, DrillInfo] {
	if len(registered) == 0 {
		panic("plan: no drill kind is registered: import github.com/regiondrill/regiondrill/internal/kind")
	}
	return slices.Clone(registered)
}

// LookupDrill finds a drill by letter (any case) or name.
func LookupDrill(s string) (DrillInfo, bool) { return Drills().Lookup(s) }

// defaultDrills are what a plan that names no drills runs: the page's A
// and E. They are the plan format's default, by name, so that Default and
// Key need no registered kind (package kind checks they are registered).
func defaultDrills() []DrillKind { return []DrillKind{"planned_evacuation", "return_to_home"} }

// Letter is the page's letter for the drill, or "?" if unknown.
func (d DrillKind) Letter() string {
	if info, ok := LookupDrill(string(d)); ok {
		return info.Letter
	}
	return "?"
}

// UnmarshalText accepts letters and names; unknown values are kept for Validate.
func (d *DrillKind) UnmarshalText(b []byte) error {
	if info, ok := LookupDrill(string(b)); ok {
		*d = info.Kind
		return nil
	}
	*d = DrillKind(b)
	return nil
}

// describeDrills is the schema's description of a drill: every kind's
// letter, name and description.
func describeDrills() string {
	var parts []string
	for _, d := range Drills() {
		parts = append(parts, d.Letter+" "+string(d.Kind)+": "+d.Description)
	}
	return "A drill kind, by letter (any case) or name. " + strings.Join(parts, "; ")
}
