package receiver

import (
	"context"
	"sync"
	"time"
)

// Store runs a function at most once per key. Herald's pgstore package
// keeps the keys in PostgreSQL, in the same transaction as the function's
// own writes; MemoryStore keeps them in memory.
type Store interface {
	// Once runs fn unless key was already done, and reports whether fn ran.
	// Calls with the same key at the same time run fn at most once: the
	// others wait and then see it done. If fn returns an error nothing is
	// recorded and a later call runs fn again. A context canceled before
	// fn starts (while waiting for another call with the key, say) returns
	// ctx.Err() without running fn.
	Once(ctx context.Context, key string, fn func(ctx context.Context) error) (ran bool, err error)
}

// MemoryStore is a Store for tests and single-process demos: keys live in
// memory and are lost on restart. It is safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	done  map[string]time.Time
	locks map[string]*keyLock
}

// keyLock serialises the calls for one key. sem holds a token while a call
// runs: a channel rather than a mutex so that a waiting call can give up
// when its context ends. refs counts the calls holding or waiting for it,
// so the entry is dropped once none does and the map does not grow with
// every key ever seen.
type keyLock struct {
	sem  chan struct{}
	refs int
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{done: map[string]time.Time{}, locks: map[string]*keyLock{}}
}

// Once implements Store.
func (s *MemoryStore) Once(ctx context.Context, key string, fn func(ctx context.Context) error) (bool, error) {
	l := s.join(key)
	defer s.leave(key, l)
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-l.sem }()
	// select picks at random among ready cases, so a context that was
	// already done (or ended as the key came free) may have lost to the
	// lock: it wins here, before anything is read or run.
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.Done(key) {
		return false, nil
	}
	if err := fn(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	s.done[key] = time.Now()
	s.mu.Unlock()
	return true, nil
}

// Done reports whether key was done.
func (s *MemoryStore) Done(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.done[key]
	return ok
}

func (s *MemoryStore) join(key string) *keyLock {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[key]
	if !ok {
		l = &keyLock{sem: make(chan struct{}, 1)}
		s.locks[key] = l
	}
	l.refs++
	return l
}

func (s *MemoryStore) leave(key string, l *keyLock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(s.locks, key)
	}
}
