package channels

import (
	"sync"
	"time"
)

// Health is what a channel instance saw since it started.
type Health struct {
	LastSuccess time.Time // a contact stored, a reply accepted
	LastError   time.Time
	LastErr     string
	// Backlog is work in hand: contacts being stored, replies being sent.
	Backlog                       int64
	Received, Sent, ErrorsCounted int64
}

// Monitor keeps an instance's Health; adapters embed one. The zero value
// is ready; it is safe for concurrent use.
type Monitor struct {
	mu sync.Mutex
	h  Health
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Health returns a copy of the current health.
func (m *Monitor) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.h
}

// Begin counts n items of work in hand until the returned func is called.
func (m *Monitor) Begin(n int) (done func()) {
	m.mu.Lock()
	m.h.Backlog += int64(n)
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			m.h.Backlog -= int64(n)
			m.mu.Unlock()
		})
	}
}

// Received records n contacts stored.
func (m *Monitor) Received(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h.Received += int64(n)
	m.h.LastSuccess = m.now()
}

// Sent records a reply the provider accepted.
func (m *Monitor) Sent() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h.Sent++
	m.h.LastSuccess = m.now()
}

// Failed records an error (nil is ignored).
func (m *Monitor) Failed(err error) {
	if err == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h.ErrorsCounted++
	m.h.LastError = m.now()
	m.h.LastErr = err.Error()
}
