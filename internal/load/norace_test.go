//go:build !race

package load_test

// fastRate is what TestWorkersTrackConcurrencyFastTarget asks for: enough
// to need workers, low enough that a shared 2-core machine with other tests
// beside it still keeps the schedule (3000 did not: the generator fell
// behind and grew workers towards the cap). Throughput itself is measured
// by bench/loadbench, not here.
const fastRate = 800
