package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
)

// Key identifies what a plan drills, for matching a run with its baselines:
// the SHA-256 of the plan as run (JSON) without the fields that hold their
// default and without the regression block. A release that adds a plan
// field with a default, writing a default out explicitly, or changing the
// tolerances keeps the key; changing what is drilled or how changes it.
func Key(planJSON []byte) (string, error) {
	var p any
	dec := json.NewDecoder(bytes.NewReader(planJSON))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return "", fmt.Errorf("plan key: %w", err)
	}
	obj, ok := p.(map[string]any)
	if !ok {
		return "", fmt.Errorf("plan key: the plan is not a JSON object")
	}
	delete(obj, "regression")
	prune(obj, defaultsJSON())
	b, err := json.Marshal(obj) // maps marshal with sorted keys
	if err != nil {
		return "", fmt.Errorf("plan key: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// defaultsJSON is Default() as generic JSON.
var defaultsJSON = sync.OnceValue(func() map[string]any {
	b, err := json.Marshal(Default())
	if err != nil {
		panic(err) // the default plan always marshals
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		panic(err)
	}
	return m
})

// prune removes from obj every field equal to its default, and objects left
// empty.
func prune(obj, def map[string]any) {
	for k, v := range obj {
		d, ok := def[k]
		if !ok {
			continue
		}
		if vm, isObj := v.(map[string]any); isObj {
			if dm, ok := d.(map[string]any); ok {
				prune(vm, dm)
				if len(vm) == 0 {
					delete(obj, k)
				}
				continue
			}
		}
		if sameJSON(v, d) {
			delete(obj, k)
		}
	}
}

// sameJSON compares decoded JSON values; numbers by value (1 and 1.0 are
// the same).
func sameJSON(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, e1 := an.Float64()
		bf, e2 := bn.Float64()
		return e1 == nil && e2 == nil && af == bf
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if !sameJSON(as[i], bs[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
