package wasmrt

import (
	"errors"
	"fmt"
)

// Kind says why a run failed.
type Kind int

// The kinds of failed run.
const (
	// KindExit: the program ended with a non-zero exit status.
	KindExit Kind = iota + 1
	// KindTimeout: the run passed its deadline and was stopped.
	KindTimeout
	// KindMemoryLimit: the guest asked for more memory than its cap.
	KindMemoryLimit
	// KindOutputLimit: standard output passed its character cap.
	KindOutputLimit
	// KindTrap: the WebAssembly machine trapped (a guest crash).
	KindTrap
)

func (k Kind) String() string {
	switch k {
	case KindExit:
		return "exit"
	case KindTimeout:
		return "timeout"
	case KindMemoryLimit:
		return "memory limit"
	case KindOutputLimit:
		return "output limit"
	case KindTrap:
		return "trap"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Sentinels matched by errors.Is against a *RunError of the same kind.
var (
	ErrExit        = errors.New("wasmrt: non-zero exit")
	ErrTimeout     = errors.New("wasmrt: timeout")
	ErrMemoryLimit = errors.New("wasmrt: memory limit")
	ErrOutputLimit = errors.New("wasmrt: output limit")
	ErrTrap        = errors.New("wasmrt: trap")
)

// RunError is a run that did not end well. Result still holds what the
// guest wrote before it ended.
type RunError struct {
	Kind Kind
	// ExitCode is the guest's exit status (KindExit), else 0.
	ExitCode int
	// Detail is the engine's or the limit's own words.
	Detail string
	// StderrTail is the end of what the guest wrote to standard error.
	StderrTail string
	// Traceback is the Python traceback a tool call's harness reported as
	// the run ended (RunTool only): the MemoryError of a tool that passed
	// its memory cap. Empty if none was reported.
	Traceback string
}

func (e *RunError) Error() string {
	msg := "wasmrt: " + e.Kind.String()
	if e.Kind == KindExit {
		msg += fmt.Sprintf(" status %d", e.ExitCode)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is lets errors.Is(err, ErrTimeout) and its siblings match.
func (e *RunError) Is(target error) bool {
	switch target {
	case ErrExit:
		return e.Kind == KindExit
	case ErrTimeout:
		return e.Kind == KindTimeout
	case ErrMemoryLimit:
		return e.Kind == KindMemoryLimit
	case ErrOutputLimit:
		return e.Kind == KindOutputLimit
	case ErrTrap:
		return e.Kind == KindTrap
	}
	return false
}
