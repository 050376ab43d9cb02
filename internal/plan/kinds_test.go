package plan_test

// The drill kinds register themselves with plan (package kind, one file
// each); a plan names them.
import _ "github.com/regiondrill/regiondrill/internal/kind"
