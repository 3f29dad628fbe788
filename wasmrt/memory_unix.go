//go:build unix

package wasmrt

import (
	"bytes"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// memoryImage holds the interpreter's initial linear memory in an unlinked
// file, which every instance maps privately: pages are shared until an
// instance writes one, and a run's writes never reach the file or another
// run. See DECISIONS.md, "Why map the interpreter's memory copy-on-write?".
type memoryImage struct {
	f    *os.File
	size uintptr
}

// newMemoryImage writes image into an unlinked file under dir (the system's
// temporary folder if dir is empty). Zero pages are left as holes.
func newMemoryImage(dir string, image []byte) (*memoryImage, error) {
	f, err := os.CreateTemp(dir, "python-memory-*.img")
	if err != nil {
		return nil, fmt.Errorf("wasmrt: memory image: %w", err)
	}
	// Unlinked at once: the open descriptor keeps it alive, and nothing is
	// left behind if the process dies.
	_ = os.Remove(f.Name())
	zero := make([]byte, wasmPageBytes)
	for off := 0; off < len(image); off += wasmPageBytes {
		page := image[off:min(off+wasmPageBytes, len(image))]
		if bytes.Equal(page, zero[:len(page)]) {
			continue
		}
		if _, err := f.WriteAt(page, int64(off)); err != nil {
			f.Close()
			return nil, fmt.Errorf("wasmrt: memory image: %w", err)
		}
	}
	if err := f.Truncate(int64(len(image))); err != nil {
		f.Close()
		return nil, fmt.Errorf("wasmrt: memory image: %w", err)
	}
	return &memoryImage{f: f, size: uintptr(len(image))}, nil
}

func (m *memoryImage) Close() error { return m.f.Close() }

// allocator returns the allocator for one instance: at most *limit bytes
// (read at each growth, so it can be set after instantiation), and refused
// records that the guest asked for more.
func (m *memoryImage) allocator(limit *atomic.Uint64, refused *atomic.Bool) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		return &mappedMemory{image: m, reserve: uintptr(max), limit: limit, refused: refused}
	})
}

// mappedMemory is one instance's linear memory: the module's maximum of
// address space reserved at the first Reallocate (never committed until
// touched), the image mapped over its start, and fresh zero pages after
// it. The address never moves.
type mappedMemory struct {
	image   *memoryImage
	reserve uintptr
	limit   *atomic.Uint64
	refused *atomic.Bool
	base    unsafe.Pointer
}

func (mm *mappedMemory) Reallocate(size uint64) []byte {
	if size > mm.limit.Load() || size > uint64(mm.reserve) {
		mm.refused.Store(true)
		return nil
	}
	if mm.base == nil {
		base, err := unix.MmapPtr(-1, 0, nil, mm.reserve,
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
		if err != nil {
			return nil
		}
		if mm.image.size > 0 {
			if _, err := unix.MmapPtr(int(mm.image.f.Fd()), 0, base, min(mm.image.size, mm.reserve),
				unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
				_ = unix.MunmapPtr(base, mm.reserve)
				return nil
			}
		}
		mm.base = base
	}
	return unsafe.Slice((*byte)(mm.base), size)
}

func (mm *mappedMemory) Free() {
	if mm.base != nil {
		_ = unix.MunmapPtr(mm.base, mm.reserve)
		mm.base = nil
	}
}
