package httpapi

// answered, when not nil, is told the operation and status of every
// request any Server of the process answers. Only this package's TestMain
// sets it, before any server starts, to record which of the reference's
// operations the end-to-end tests exercise (tests/conformance/, which
// CONFORMANCE.md is made from); in the binary it stays nil. It is
// package state because those servers are built inside compadretest,
// out of the tests' reach. See DECISIONS.md, "How is CONFORMANCE.md made,
// and why can it not be edited by hand?".
var answered func(op string, status int)
