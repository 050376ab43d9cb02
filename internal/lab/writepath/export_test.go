package writepath

// SetAcceptHook installs f to run while a key is in flight in POST /write.
func SetAcceptHook(p *Path, f func(key string)) { p.acceptHook = f }

// SetApplyHook installs f to run at each stage of an apply ("claimed": the
// ledger claim is held, nothing is stored yet).
func SetApplyHook(p *Path, f func(key, stage string)) { p.applyHook = f }

// LedgerKey is the ledger entry name of an idempotency key.
func LedgerKey(key string) string { return ledgerKey(key) }
