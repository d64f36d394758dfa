package main

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/surveys"
)

// startSurveys builds the survey service and the workers that invite the
// citizens of resolved cases and sweep expired links, with their metrics:
// sportello_survey_invitations_total{outcome} and
// sportello_survey_responses_total (the response rate is their ratio).
func startSurveys(ctx context.Context, cfg Config, db *storage.DB, js jetstream.JetStream, publicURL string, loc *time.Location,
	reg prometheus.Registerer, log *slog.Logger) (*surveys.Service, []func(context.Context), error) {
	invitations := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sportello_survey_invitations_total",
		Help: "Resolved cases handled by the survey inviter, by outcome: sent, or skipped_<reason>.",
	}, []string{"outcome"})
	responses := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sportello_survey_responses_total", Help: "Survey responses stored.",
	})
	reg.MustRegister(invitations, responses)
	invitations.WithLabelValues("sent").Add(0)
	service := &surveys.Service{Store: db, Location: loc, Responded: responses.Inc}
	sweep := func(ctx context.Context) {
		for {
			if n, err := db.DeleteExpiredSurveyTokens(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("surveys: sweeping expired links failed", "err", err)
			} else if n > 0 {
				log.Info("surveys: expired links removed", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Hour):
			}
		}
	}
	if cfg.Surveys.Disabled {
		return service, []func(context.Context){sweep}, nil
	}
	ttl, _ := cfg.Surveys.TTL() // validated with the config
	inviter := &surveys.Inviter{Cases: db, Contacts: db, Store: db, BaseURL: publicURL, EmailChannel: cmp.Or(cfg.Surveys.EmailChannel, cfg.webReplyMailbox()),
		TTL: ttl, Log: log, Counted: func(o string) { invitations.WithLabelValues(o).Inc() }}
	consumer := &events.SurveyInvitations{JS: js, Invite: inviter.Invite, Log: log}
	if err := consumer.Declare(ctx); err != nil {
		return nil, nil, err
	}
	return service, []func(context.Context){sweep, func(ctx context.Context) {
		if err := consumer.Run(ctx); err != nil {
			log.Error("survey invitations stopped", "err", err)
		}
	}}, nil
}
