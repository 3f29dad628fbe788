package wasmrt

import "golang.org/x/sys/unix"

// mapNoReserve keeps the reserved-but-untouched part of each instance's
// memory from counting against the system's overcommit budget.
const mapNoReserve = unix.MAP_NORESERVE
