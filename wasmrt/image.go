package wasmrt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WebAssembly binary format constants used by splitData.
const (
	sectionData     = 11
	sectionDataCnt  = 12
	opI32Const      = 0x41
	opEnd           = 0x0b
	wasmHeaderBytes = 8
	wasmPageBytes   = 65536
)

// splitData separates a module's active data segments from its code. It
// returns the module with every active segment emptied (passive segments
// and segment indices stay as they were, so memory.init and data.drop keep
// working) and the initial linear memory those segments described, cut
// after its last non-zero byte's page.
//
// A pre-initialised interpreter is mostly data: the snapshot embedded here
// holds 10 MB of segments over 40 MiB of memory. wazero copies every segment
// into a freshly allocated memory on each instantiation; mapping this image
// copy-on-write instead makes a fresh interpreter cost two system calls. See
// DECISIONS.md, "Why map the interpreter's memory copy-on-write?".
func splitData(module []byte) (code, memory []byte, err error) {
	if len(module) < wasmHeaderBytes || string(module[:4]) != "\x00asm" {
		return nil, nil, errors.New("wasmrt: not a WebAssembly module")
	}
	code = make([]byte, 0, len(module))
	code = append(code, module[:wasmHeaderBytes]...)
	p := wasmHeaderBytes
	for p < len(module) {
		id := module[p]
		size, n := binary.Uvarint(module[p+1:])
		if n <= 0 || uint64(len(module)-p-1-n) < size {
			return nil, nil, fmt.Errorf("wasmrt: section %d at offset %d is cut short", id, p)
		}
		body := module[p+1+n : p+1+n+int(size)]
		next := p + 1 + n + int(size)
		if id != sectionData {
			code = append(code, module[p:next]...)
			p = next
			continue
		}
		newBody, mem, err := splitDataSection(body)
		if err != nil {
			return nil, nil, err
		}
		memory = mem
		code = append(code, sectionData)
		code = binary.AppendUvarint(code, uint64(len(newBody)))
		code = append(code, newBody...)
		p = next
	}
	return code, memory, nil
}

// splitDataSection rewrites one data section; see splitData.
func splitDataSection(body []byte) (newBody, memory []byte, err error) {
	count, n := binary.Uvarint(body)
	if n <= 0 {
		return nil, nil, errors.New("wasmrt: bad data segment count")
	}
	type segment struct {
		offset uint32
		init   []byte
	}
	var active []segment
	var end uint64
	newBody = binary.AppendUvarint(nil, count)
	q := n
	for i := uint64(0); i < count; i++ {
		start := q
		if q >= len(body) {
			return nil, nil, fmt.Errorf("wasmrt: data segment %d is cut short", i)
		}
		flags := body[q]
		q++
		var offset uint32
		switch flags {
		case 0, 2:
			if flags == 2 {
				mem, n := binary.Uvarint(body[q:])
				if n <= 0 || mem != 0 {
					return nil, nil, fmt.Errorf("wasmrt: data segment %d targets memory %d", i, mem)
				}
				q += n
			}
			if q >= len(body) || body[q] != opI32Const {
				return nil, nil, fmt.Errorf("wasmrt: data segment %d has a non-constant offset", i)
			}
			v, n := readSLEB32(body[q+1:])
			if n == 0 {
				return nil, nil, fmt.Errorf("wasmrt: data segment %d has a bad offset", i)
			}
			offset = uint32(v)
			q += 1 + n
			if q >= len(body) || body[q] != opEnd {
				return nil, nil, fmt.Errorf("wasmrt: data segment %d has an offset expression wazero would reject", i)
			}
			q++
		case 1:
		default:
			return nil, nil, fmt.Errorf("wasmrt: data segment %d has flags %d", i, flags)
		}
		size, n := binary.Uvarint(body[q:])
		if n <= 0 || uint64(len(body)-q-n) < size {
			return nil, nil, fmt.Errorf("wasmrt: data segment %d is cut short", i)
		}
		q += n
		init := body[q : q+int(size)]
		q += int(size)
		if flags == 1 {
			newBody = append(newBody, body[start:q]...)
			continue
		}
		active = append(active, segment{offset, init})
		end = max(end, uint64(offset)+size)
		// An empty active segment at offset 0 keeps this segment's index.
		newBody = append(newBody, 0, opI32Const, 0, opEnd, 0)
	}
	if q != len(body) {
		return nil, nil, errors.New("wasmrt: data section has trailing bytes")
	}
	memory = make([]byte, (end+wasmPageBytes-1)/wasmPageBytes*wasmPageBytes)
	for _, s := range active {
		copy(memory[s.offset:], s.init)
	}
	return newBody, memory, nil
}

// readSLEB32 decodes a signed LEB128 number of at most 32 bits, as
// i32.const holds, and returns it with the count of bytes read (0 if bad).
func readSLEB32(b []byte) (int32, int) {
	var v int64
	var shift uint
	for i, c := range b {
		if i == 5 {
			return 0, 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return int32(v), i + 1
		}
	}
	return 0, 0
}
