package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sportello/sportello/services/reports"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/web"
	"github.com/sportello/sportello/web/reportpage"
)

// reporting is the supervisors' reports: the ReportService, the page at
// /supervisor/reports, and the live queue metrics.
type reporting struct {
	server *reports.Server
	page   *reportpage.Page
	// refresher keeps the reports' rollup fresh (a worker).
	refresher *reports.Refresher
}

// startReports registers the queue metrics on reg and builds the
// ReportService and its page; the page gets its client once the server
// runs (setClient).
func startReports(db *storage.DB, reg *prometheus.Registry, loc *time.Location, work storage.WorkingTime, log *slog.Logger) *reporting {
	// The report facts' durations are working time on the SLA calendar.
	db.SetWorkingTime(work)
	reg.MustRegister(&reports.Metrics{Store: db, Log: log})
	return &reporting{
		server:    &reports.Server{Reporter: &reports.Reporter{Store: db, Location: loc}},
		page:      reportpage.New(reportpage.Config{LoginPath: accountPath, Location: loc, Log: log}),
		refresher: &reports.Refresher{Store: db, Log: log},
	}
}

// route serves the page behind the session middleware, for the visitors
// the sessions know.
func (r *reporting) route(id *identity, routes map[string]http.Handler) {
	r.page.Visitor = func(req *http.Request) (web.Visitor, bool) {
		s, ok := id.sessions.Current(req)
		if !ok {
			return web.Visitor{}, false
		}
		return web.Visitor{Principal: s.Principal, Token: s.BearerToken(), CSRF: s.CSRFToken()}, true
	}
	routes["GET "+reportpage.Path] = id.wrap(r.page)
}
