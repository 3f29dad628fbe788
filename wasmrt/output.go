package wasmrt

import (
	"sync"
)

// cappedBuffer keeps what a guest writes to one stream, up to max bytes.
// Past it, the write still reports success (so the guest is not sent down
// an error path of its own), the rest is dropped, and onOverflow runs once.
type cappedBuffer struct {
	mu         sync.Mutex
	buf        []byte
	max        int
	overflowed bool
	onOverflow func()
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.buf)
	if len(p) <= room {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	c.buf = append(c.buf, p[:max(room, 0)]...)
	if !c.overflowed {
		c.overflowed = true
		if c.onOverflow != nil {
			c.onOverflow()
		}
	}
	return len(p), nil
}

// setLimit arms the buffer for a request.
func (c *cappedBuffer) setLimit(limit int, onOverflow func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = limit
	c.onOverflow = onOverflow
}

func (c *cappedBuffer) bytes() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf, c.overflowed
}
