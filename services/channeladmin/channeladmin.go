// Package channeladmin shows the configured channel instances and their
// health: the admin RPC ChannelService and Prometheus metrics. It only
// reads what the adapters report; channels are configured in the config
// file.
package channeladmin

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	"github.com/sportello/sportello/channels"
)

// Server implements adminv1.ChannelServiceServer.
type Server struct {
	adminv1.UnimplementedChannelServiceServer
	// List returns the instances, ordered by kind then id.
	List func() []channels.Adapter
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// ListChannels implements adminv1.ChannelServiceServer.
func (s *Server) ListChannels(context.Context, *adminv1.ListChannelsRequest) (*adminv1.ListChannelsResponse, error) {
	out := &adminv1.ListChannelsResponse{}
	if s.List == nil {
		return out, nil
	}
	for _, a := range s.List() {
		h := a.Health()
		c := &adminv1.Channel{Kind: a.Kind(), Id: a.ID(), Capabilities: channels.Capabilities(a),
			Health: &adminv1.ChannelHealth{LastSuccessTime: ts(h.LastSuccess), LastErrorTime: ts(h.LastError), LastError: h.LastErr,
				Backlog: h.Backlog, ReceivedTotal: h.Received, SentTotal: h.Sent, ErrorTotal: h.ErrorsCounted}}
		if w, ok := a.(channels.WebhookReceiver); ok {
			c.WebhookPath = w.WebhookPath()
		}
		out.Channels = append(out.Channels, c)
	}
	return out, nil
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
)

func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBacklog, descRecv, descSent, descErrors, descSuccess, descError} {
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
	}
}
