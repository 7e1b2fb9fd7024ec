package receiver

// MemoryStoreWaiters counts the calls of s waiting for a key another call
// holds, for receivertest's concurrency checks.
func MemoryStoreWaiters(s *MemoryStore) func() int {
	return func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for _, l := range s.locks {
			n += l.refs - len(l.sem)
		}
		return n
	}
}

// MemoryStoreLocks counts the per-key locks s keeps.
func MemoryStoreLocks(s *MemoryStore) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.locks)
}
