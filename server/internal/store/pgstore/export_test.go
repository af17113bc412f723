package pgstore

// ReadAheadQueries is how many read-ahead queries s has run.
func (s *Store) ReadAheadQueries() int64 {
	s.ra.mu.Lock()
	defer s.ra.mu.Unlock()
	return s.ra.queries
}

// ReadAheadKept is how many rows s keeps read ahead.
func (s *Store) ReadAheadKept() int {
	s.ra.mu.Lock()
	defer s.ra.mu.Unlock()
	return len(s.ra.rows)
}
