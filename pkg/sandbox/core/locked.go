package core

import "sync"

// Locked is the shape of an operation on one existing resource: under mu, the service's lock, it
// looks the resource up with find (which answers the service's own not-found or invalid-id
// exception, returned as it is) and runs op on it. mu stays held until op returns, so op may read
// and change the service's state.
func Locked[R, T any](mu *sync.Mutex, find func(id string) (R, error), id string, op func(R) (T, error)) (T, error) {
	mu.Lock()
	defer mu.Unlock()
	r, err := find(id)
	if err != nil {
		var zero T
		return zero, err
	}
	return op(r)
}

// LockedDo is Locked for an operation with no result.
func LockedDo[R any](mu *sync.Mutex, find func(id string) (R, error), id string, op func(R) error) error {
	_, err := Locked(mu, find, id, func(r R) (struct{}, error) { return struct{}{}, op(r) })
	return err
}
