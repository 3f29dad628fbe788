//go:build unix && !linux

package wasmrt

// mapNoReserve is Linux's; elsewhere anonymous mappings are lazy anyway.
const mapNoReserve = 0
