package writepath

// SetAcceptHook installs f to run while a key is in flight in POST /write.
func SetAcceptHook(p *Path, f func(key string)) { p.acceptHook = f }
