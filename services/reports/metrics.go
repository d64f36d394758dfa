package reports

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the live queue numbers to Prometheus. A scrape reuses
// the numbers read within MaxAge, so many scrapers (or replicas' scrapers)
// cost at most one read of the store per MaxAge; the read itself touches
// only open cases (Store.Live).
type Metrics struct {
	Store Store
	Log   *slog.Logger
	// MaxAge is how long a read serves scrapes; 0 is 15 s.
	MaxAge time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu     sync.Mutex
	live   Live
	readAt time.Time
	ok     bool
}

var (
	queueDesc = prometheus.NewDesc("sportello_queue_cases",
		"Open cases by department and status.", []string{"department", "status"}, nil)
	oldestDesc = prometheus.NewDesc("sportello_queue_oldest_unassigned_seconds",
		"Age of the oldest unassigned open case, by department (absent when none waits).", []string{"department"}, nil)
	breachedDesc = prometheus.NewDesc("sportello_sla_breached_open_cases",
		"Open, running cases past their resolution deadline, by department.", []string{"department"}, nil)
	upDesc = prometheus.NewDesc("sportello_queue_metrics_up",
		"1 if the last read of the queue numbers succeeded.", nil, nil)
)

var _ prometheus.Collector = (*Metrics)(nil)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- oldestDesc
	ch <- breachedDesc
	ch <- upDesc
}

func (m *Metrics) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	live, now, ok := m.read()
	up := 0.0
	if ok {
		up = 1
		for k, n := range live.Queue {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
		for dept, t := range live.OldestUnassigned {
			ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, max(0, now.Sub(t).Seconds()), dept)
		}
		// Every department with open cases has a breach gauge, 0 included,
		// so an alert on it sees a series before the first breach.
		breached := map[string]int{}
		for k := range live.Queue {
			breached[k[0]] = 0
		}
		for dept, n := range live.Breached {
			breached[dept] = n
		}
		for dept, n := range breached {
			ch <- prometheus.MustNewConstMetric(breachedDesc, prometheus.GaugeValue, float64(n), dept)
		}
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
}

// read returns the cached numbers, reading them again when older than
// MaxAge. A failed read is logged and reported as down, and is retried at
// the next scrape.
func (m *Metrics) read() (Live, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	maxAge := m.MaxAge
	if maxAge <= 0 {
		maxAge = 15 * time.Second
	}
	now := m.now()
	if m.ok && now.Sub(m.readAt) < maxAge {
		return m.live, now, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	live, err := m.Store.Live(ctx, now)
	if err != nil {
		if m.Log != nil {
			m.Log.Warn("queue metrics", "err", err)
		}
		m.ok = false
		return Live{}, now, false
	}
	m.live, m.readAt, m.ok = live, now, true
	return live, now, true
}
