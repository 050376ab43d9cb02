//go:build !race

package load_test

// fastRate is what TestWorkersTrackConcurrencyFastTarget asks for.
const fastRate = 3000
