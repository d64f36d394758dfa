// Package channeladmin shows the configured channel instances and their
// health: the admin RPC ChannelService and Prometheus metrics. It only
// reads what the adapters report; channels are configured in the config
// file. Health is kept by each replica: Share publishes it on a Board
// (services/events, a NATS KV bucket) so that ListChannels shows every
// replica's view and their sum; /metrics stays per process, as Prometheus
// scrapes each replica and sums itself.
package channeladmin

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	"github.com/sportello/sportello/channels"
)

// Server implements adminv1.ChannelServiceServer.
type Server struct {
	adminv1.UnimplementedChannelServiceServer
	// List returns the instances, ordered by kind then id.
	List func() []channels.Adapter
	// Board, when set, holds every replica's reports; Replica names this
	// one (its own report is taken fresh from List).
	Board   Board
	Replica string
	// Log reports a Board that cannot be read (the answer then has this
	// replica's view only).
	Log *slog.Logger
}

// Report is one replica's view of one channel instance.
type Report struct {
	Replica, Kind, ID string
	Capabilities      []string
	WebhookPath       string
	At                time.Time
	Health            channels.Health
}

// Board shares the replicas' reports (services/events: a NATS KV bucket
// whose entries expire, so a stopped replica drops out).
type Board interface {
	Publish(ctx context.Context, reports []Report) error
	// Withdraw removes reports published before, when their replica stops,
	// so it is not counted until they expire.
	Withdraw(ctx context.Context, reports []Report) error
	// List returns the reports of the replicas alive.
	List(ctx context.Context) ([]Report, error)
}

// reports is this replica's view now.
func reports(replica string, list []channels.Adapter, now time.Time) []Report {
	out := make([]Report, 0, len(list))
	for _, a := range list {
		r := Report{Replica: replica, Kind: a.Kind(), ID: a.ID(), Capabilities: channels.Capabilities(a), At: now, Health: a.Health()}
		if w, ok := a.(channels.WebhookReceiver); ok {
			r.WebhookPath = w.WebhookPath()
		}
		out = append(out, r)
	}
	return out
}

// Share publishes this replica's view on board every interval until ctx
// ends (and once at once).
func Share(ctx context.Context, board Board, replica string, list func() []channels.Adapter, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last []Report
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = reports(replica, list(), time.Now())
		if err := board.Publish(pctx, last); err != nil && ctx.Err() == nil {
			log.Warn("channel health: could not publish this replica's view", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			// This replica stops: its reports go now, not at their expiry.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := board.Withdraw(wctx, last); err != nil {
				log.Warn("channel health: could not withdraw this replica's view", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

func healthProto(h channels.Health) *adminv1.ChannelHealth {
	return &adminv1.ChannelHealth{LastSuccessTime: ts(h.LastSuccess), LastErrorTime: ts(h.LastError), LastError: h.LastErr,
		Backlog: h.Backlog, ReceivedTotal: h.Received, SentTotal: h.Sent, ErrorTotal: h.ErrorsCounted}
}

func templateSyncProto(s channels.TemplateSync) *adminv1.TemplateSync {
	out := &adminv1.TemplateSync{SyncTime: ts(s.At), SuccessTime: ts(s.OK), Error: s.Err}
	for _, t := range s.Templates {
		out.Templates = append(out.Templates, &adminv1.SyncedTemplate{Name: t.Name, Language: t.Language, Status: t.Status, Category: t.Category})
	}
	return out
}

// syncer returns the local instance kind/id if it syncs templates.
func (s *Server) syncer(kind, id string) (channels.TemplateSyncer, bool) {
	if s.List == nil {
		return nil, false
	}
	for _, a := range s.List() {
		if a.Kind() == kind && a.ID() == id {
			ts, ok := a.(channels.TemplateSyncer)
			return ts, ok && ts.TemplateSyncEnabled()
		}
	}
	return nil, false
}

// SyncChannelTemplates implements adminv1.ChannelServiceServer.
func (s *Server) SyncChannelTemplates(ctx context.Context, req *adminv1.SyncChannelTemplatesRequest) (*adminv1.SyncChannelTemplatesResponse, error) {
	if s.List != nil {
		found := false
		for _, a := range s.List() {
			found = found || (a.Kind() == req.GetKind() && a.ID() == req.GetId())
		}
		if !found {
			return nil, status.Errorf(codes.NotFound, "no channel %s/%s is configured", req.GetKind(), req.GetId())
		}
	}
	ts, ok := s.syncer(req.GetKind(), req.GetId())
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "channel %s/%s does not sync message templates (a WhatsApp channel with waba_id does)", req.GetKind(), req.GetId())
	}
	got, err := ts.SyncTemplates(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "template sync of %s/%s failed: %v", req.GetKind(), req.GetId(), err)
	}
	return &adminv1.SyncChannelTemplatesResponse{TemplateSync: templateSyncProto(got)}, nil
}

// sum adds b to a: counters and backlog summed, the latest success and
// error (with its message) kept.
func sum(a, b channels.Health) channels.Health {
	a.Backlog += b.Backlog
	a.Received += b.Received
	a.Sent += b.Sent
	a.ErrorsCounted += b.ErrorsCounted
	if b.LastSuccess.After(a.LastSuccess) {
		a.LastSuccess = b.LastSuccess
	}
	if b.LastError.After(a.LastError) {
		a.LastError, a.LastErr = b.LastError, b.LastErr
	}
	return a
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// ListChannels implements adminv1.ChannelServiceServer.
func (s *Server) ListChannels(ctx context.Context, _ *adminv1.ListChannelsRequest) (*adminv1.ListChannelsResponse, error) {
	out := &adminv1.ListChannelsResponse{}
	var local []channels.Adapter
	if s.List != nil {
		local = s.List()
	}
	mine := reports(s.Replica, local, time.Now())
	if s.Board == nil {
		for _, r := range mine {
			out.Channels = append(out.Channels, &adminv1.Channel{Kind: r.Kind, Id: r.ID, Capabilities: r.Capabilities,
				WebhookPath: r.WebhookPath, Health: healthProto(r.Health)})
		}
		s.addTemplateSync(out)
		return out, nil
	}
	all := slices.Clone(mine)
	shared, err := s.Board.List(ctx)
	if err != nil && s.Log != nil {
		s.Log.Warn("channel health: could not read the other replicas' views", "err", err)
	}
	for _, r := range shared {
		if r.Replica != s.Replica { // this replica's own is fresh in mine
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b Report) int {
		return strings.Compare(a.Kind+"\x00"+a.ID+"\x00"+a.Replica, b.Kind+"\x00"+b.ID+"\x00"+b.Replica)
	})
	var (
		c     *adminv1.Channel
		total channels.Health
	)
	for _, r := range all {
		if c == nil || c.Kind != r.Kind || c.Id != r.ID {
			if c != nil {
				c.Health = healthProto(total)
			}
			c, total = &adminv1.Channel{Kind: r.Kind, Id: r.ID, Capabilities: r.Capabilities, WebhookPath: r.WebhookPath}, channels.Health{}
			out.Channels = append(out.Channels, c)
		}
		total = sum(total, r.Health)
		c.Replicas = append(c.Replicas, &adminv1.ReplicaHealth{Replica: r.Replica, Health: healthProto(r.Health), ReportTime: ts(r.At)})
	}
	if c != nil {
		c.Health = healthProto(total)
	}
	s.addTemplateSync(out)
	return out, nil
}

// addTemplateSync adds this replica's last template sync to the channels
// that sync.
func (s *Server) addTemplateSync(out *adminv1.ListChannelsResponse) {
	for _, c := range out.Channels {
		if ts, ok := s.syncer(c.Kind, c.Id); ok {
			c.TemplateSync = templateSyncProto(ts.LastTemplateSync())
		}
	}
}

// Collector exports the instances' health as Prometheus metrics, labelled
// by kind and channel id.
type Collector struct {
	List func() []channels.Adapter
}

var (
	labels      = []string{"kind", "channel"}
	descBacklog = prometheus.NewDesc("sportello_channel_backlog", "Work in hand: contacts being stored, replies being sent.", labels, nil)
	descRecv    = prometheus.NewDesc("sportello_channel_received_total", "Contacts received and stored.", labels, nil)
	descSent    = prometheus.NewDesc("sportello_channel_sent_total", "Replies the provider accepted.", labels, nil)
	descErrors  = prometheus.NewDesc("sportello_channel_errors_total", "Failures: refused webhooks, provider errors, storage errors.", labels, nil)
	descSuccess = prometheus.NewDesc("sportello_channel_last_success_timestamp_seconds", "Last success (0: none since start).", labels, nil)
	descError   = prometheus.NewDesc("sportello_channel_last_error_timestamp_seconds", "Last failure (0: none since start).", labels, nil)
	descSync    = prometheus.NewDesc("sportello_channel_template_sync_timestamp_seconds", "Last successful sync of message templates with the provider (0: none since start); channels that sync only.", labels, nil)
	descSyncErr = prometheus.NewDesc("sportello_channel_template_sync_failing", "1 when the last sync of message templates failed.", labels, nil)
)

func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBacklog, descRecv, descSent, descErrors, descSuccess, descError, descSync, descSyncErr} {
		ch <- d
	}
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func (c Collector) Collect(ch chan<- prometheus.Metric) {
	if c.List == nil {
		return
	}
	for _, a := range c.List() {
		h := a.Health()
		l := []string{a.Kind(), a.ID()}
		ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(h.Backlog), l...)
		ch <- prometheus.MustNewConstMetric(descRecv, prometheus.CounterValue, float64(h.Received), l...)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(h.Sent), l...)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(h.ErrorsCounted), l...)
		ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.GaugeValue, unix(h.LastSuccess), l...)
		ch <- prometheus.MustNewConstMetric(descError, prometheus.GaugeValue, unix(h.LastError), l...)
		if ts, ok := a.(channels.TemplateSyncer); ok && ts.TemplateSyncEnabled() {
			last := ts.LastTemplateSync()
			failing := 0.0
			if last.Err != "" {
				failing = 1
			}
			ch <- prometheus.MustNewConstMetric(descSync, prometheus.GaugeValue, unix(last.OK), l...)
			ch <- prometheus.MustNewConstMetric(descSyncErr, prometheus.GaugeValue, failing, l...)
		}
	}
}
