package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/cases"
)

// SurveysConsumer is the durable consumer of resolutions that invites
// citizens to the satisfaction survey.
const SurveysConsumer = "surveys"

// SurveyInvitations consumes status changes from CASE_EVENTS with the
// durable consumer "surveys" and hands each resolution to Invite. Invite
// must be idempotent (one invitation per case, whatever the redeliveries):
// an event is acked after Invite returns nil and redelivered, with
// backoff, when it fails.
type SurveyInvitations struct {
	JS     jetstream.JetStream
	Invite func(ctx context.Context, caseID string) (string, error)
	Log    *slog.Logger
	// Retry is the delay before a failed invitation is tried again; 30 s
	// when zero.
	Retry time.Duration

	cons jetstream.Consumer
}

// Declare creates or updates the durable consumer. Call it before the
// server takes requests: it delivers only events published after it first
// exists.
func (s *SurveyInvitations) Declare(ctx context.Context) error {
	st, err := s.JS.Stream(ctx, CaseEventsStream)
	if err != nil {
		return fmt.Errorf("survey invitations: %w", err)
	}
	s.cons, err = st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       SurveysConsumer,
		Description:   "services/surveys: invites the citizen of a resolved case to the survey.",
		FilterSubject: CaseEventsPrefix + string(cases.EventStatusChanged),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		MaxDeliver:    20,
		MaxAckPending: 256,
		// Cases resolved before the consumer existed are not surveyed.
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("survey invitations consumer: %w", err)
	}
	return nil
}

// Run consumes until ctx ends; Declare first.
func (s *SurveyInvitations) Run(ctx context.Context) error {
	cons := s.cons
	if cons == nil {
		return errors.New("survey invitations: Run before Declare")
	}
	retry := s.Retry
	if retry <= 0 {
		retry = 30 * time.Second
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
				s.Log.Warn("survey invitations: fetch failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for m := range batch.Messages() {
			s.handle(ctx, m, retry)
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			s.Log.Warn("survey invitations: fetch failed", "err", err)
			sleep(ctx, time.Second)
		}
	}
	return nil
}

func (s *SurveyInvitations) handle(ctx context.Context, m jetstream.Msg, retry time.Duration) {
	var e casesv1.CaseEvent
	if err := proto.Unmarshal(m.Data(), &e); err != nil {
		s.Log.Error("survey invitations: undecodable case event; skipping it", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	if e.GetChanges()["status"].GetAfter() != string(cases.StatusResolved) {
		_ = m.Ack()
		return
	}
	outcome, err := s.Invite(context.WithoutCancel(ctx), e.GetCaseId())
	if err != nil {
		s.Log.Warn("survey invitations: will retry", "case_id", e.GetCaseId(), "err", err)
		_ = m.NakWithDelay(retry)
		return
	}
	s.Log.Debug("survey invitation", "case_id", e.GetCaseId(), "outcome", outcome)
	_ = m.Ack()
}
