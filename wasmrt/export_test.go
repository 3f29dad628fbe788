package wasmrt

// BackgroundInUse is how many background slots are held, for tests.
func BackgroundInUse(r *Runtime) int { return len(r.background) }
