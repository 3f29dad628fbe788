//go:build !unix

package wasmrt

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryImage, where mmap is not available, is copied into each instance.
type memoryImage struct{ image []byte }

func newMemoryImage(_ string, image []byte) (*memoryImage, error) {
	return &memoryImage{image: image}, nil
}

func (m *memoryImage) Close() error { return nil }

func (m *memoryImage) allocator(limit *atomic.Uint64, refused *atomic.Bool) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, _ uint64) experimental.LinearMemory {
		return &copiedMemory{image: m.image, limit: limit, refused: refused}
	})
}

type copiedMemory struct {
	image   []byte
	limit   *atomic.Uint64
	refused *atomic.Bool
	buf     []byte
}

func (cm *copiedMemory) Reallocate(size uint64) []byte {
	if size > cm.limit.Load() {
		cm.refused.Store(true)
		return nil
	}
	if cm.buf == nil {
		cm.buf = make([]byte, size)
		copy(cm.buf, cm.image)
		return cm.buf
	}
	if size > uint64(cap(cm.buf)) {
		grown := make([]byte, size, max(size, min(cm.limit.Load(), 2*size)))
		copy(grown, cm.buf)
		cm.buf = grown
	}
	cm.buf = cm.buf[:size]
	return cm.buf
}

func (cm *copiedMemory) Free() { cm.buf = nil }
