package wasmrt

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// WASI preview1 numbers used by pollOneoff.
const (
	wasiClockRealtime  = 0
	wasiClockMonotonic = 1
	wasiEventClock     = 0
	wasiEventFdRead    = 1
	wasiEventFdWrite   = 2
	wasiAbstime        = 1
	wasiErrnoSuccess   = 0
	wasiErrnoFault     = 21
	wasiErrnoInval     = 28
	subscriptionBytes  = 48
	eventBytes         = 32
)

// monotonicBase is the zero of the guest's monotonic clock.
var monotonicBase = time.Now()

// guestNanotime is the guest's monotonic clock, shared with pollOneoff so
// that an absolute deadline on it can be turned into a wait.
func guestNanotime() int64 { return int64(time.Since(monotonicBase)) }

// instantiateWASI adds WASI preview1 to rt, with poll_oneoff replaced.
//
// wazero's poll_oneoff refuses absolute clock deadlines (ENOTSUP), and
// CPython 3.11+ sleeps with clock_nanosleep(TIMER_ABSTIME), so time.sleep
// would fail in every tool. This one accepts both forms and waits on the
// run's context, so a deadline still ends a sleeping guest at once.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(pollOneoff),
			[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32},
			[]api.ValueType{api.ValueTypeI32}).
		WithParameterNames("in", "out", "nsubscriptions", "result.nevents").
		Export("poll_oneoff")
	_, err := b.Instantiate(ctx)
	return err
}

// pollOneoff waits for the earliest clock subscription, or reports every
// descriptor subscription ready at once: the guest's descriptors are
// in-memory files and buffers that never block.
func pollOneoff(ctx context.Context, mod api.Module, stack []uint64) {
	in, out, n, resultN := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	stack[0] = wasiErrnoInval
	if n == 0 {
		return
	}
	mem := mod.Memory()
	subs, ok1 := mem.Read(in, n*subscriptionBytes)
	events, ok2 := mem.Read(out, n*eventBytes)
	if !ok1 || !ok2 {
		stack[0] = wasiErrnoFault
		return
	}
	le := binary.LittleEndian
	type ready struct {
		userdata uint64
		kind     byte
		errno    uint16
	}
	var fds []ready
	var wait time.Duration = -1
	var clockUserdata uint64
	for i := range n {
		s := subs[i*subscriptionBytes:]
		userdata, kind := le.Uint64(s[0:]), s[8]
		switch kind {
		case wasiEventClock:
			id, timeout, flags := le.Uint32(s[16:]), le.Uint64(s[24:]), le.Uint16(s[40:])
			d := time.Duration(timeout)
			if flags&wasiAbstime != 0 {
				switch id {
				case wasiClockRealtime:
					d = time.Until(time.Unix(0, int64(timeout)))
				case wasiClockMonotonic:
					d = time.Duration(int64(timeout) - guestNanotime())
				default:
					fds = append(fds, ready{userdata, kind, wasiErrnoInval})
					continue
				}
			}
			d = max(d, 0)
			if wait < 0 || d < wait {
				wait, clockUserdata = d, userdata
			}
		case wasiEventFdRead, wasiEventFdWrite:
			fds = append(fds, ready{userdata, kind, wasiErrnoSuccess})
		default:
			fds = append(fds, ready{userdata, kind, wasiErrnoInval})
		}
	}
	if len(fds) == 0 && wait >= 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		fds = append(fds, ready{clockUserdata, wasiEventClock, wasiErrnoSuccess})
	}
	clear(events)
	for i, f := range fds {
		e := events[i*eventBytes:]
		le.PutUint64(e[0:], f.userdata)
		le.PutUint16(e[8:], f.errno)
		e[10] = f.kind
	}
	if !mem.WriteUint32Le(resultN, uint32(len(fds))) {
		stack[0] = wasiErrnoFault
		return
	}
	stack[0] = wasiErrnoSuccess
}
