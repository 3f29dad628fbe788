package httpapi

// Paging: the continuation tokens of listings that page in memory.

// nextToken is a page's continuation token: where the next page starts, or
// nil when none follows.
func nextToken(offset, n int, more bool) *int {
	if !more {
		return nil
	}
	next := offset + n
	return &next
}

// page cuts limit records from offset out of all, and says whether more
// follow.
func page[T any](all []T, offset, limit int) ([]T, bool) {
	if offset >= len(all) {
		return []T{}, false
	}
	end := min(len(all), offset+limit)
	return all[offset:end], end < len(all)
}
