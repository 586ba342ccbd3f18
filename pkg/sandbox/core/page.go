package core

import (
	"encoding/base64"
	"strconv"
	"sync"
)

// Window returns the page of all that starts at offset start and holds at most limit items, never
// nil (an empty page encodes as an empty JSON list), and end, the offset after it: when end <
// len(all) another page follows, starting at end. A start past the end gives an empty page.
func Window[T any](all []T, start, limit int) (page []T, end int) {
	start = min(start, len(all))
	end = min(start+limit, len(all))
	page = all[start:end]
	if page == nil {
		page = []T{}
	}
	return page, end
}

// Page makes a whole list with collect under mu, the service's lock, and returns its Window from
// start of at most limit items, end, and the length of the whole list: another page follows when
// end < total.
func Page[T any](mu *sync.Mutex, collect func() ([]T, error), start, limit int) (page []T, end, total int, err error) {
	mu.Lock()
	defer mu.Unlock()
	all, err := collect()
	if err != nil {
		return nil, 0, 0, err
	}
	page, end = Window(all, start, limit)
	return page, end, len(all), nil
}

// OffsetToken is an opaque NextToken for a list whose next page starts at offset, in the form
// CloudHSM's and SSM's tokens have (URL-safe base64, no padding).
func OffsetToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset)))
}

// ParseOffsetToken reads a token OffsetToken made; ok is false for any other string.
func ParseOffsetToken(token string) (offset int, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(b))
	return n, err == nil && n >= 0
}
