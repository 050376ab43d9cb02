//go:build race

package load_test

// The race detector makes each request ten times dearer.
const fastRate = 300
