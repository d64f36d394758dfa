package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	"github.com/sportello/sportello/channels/meta"
	"github.com/sportello/sportello/channels/meta/metatest"
	"github.com/sportello/sportello/channels/telegram/telegramtest"
	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/storage/storetest"
)

// TestIntegrationChannelHealthReplicas: two replicas sharing NATS and a
// database each see part of the traffic; ListChannels on either shows
// every replica's view of each channel and their sum, while /metrics
// stays per process.
func TestIntegrationChannelHealthReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		graph := metatest.NewGraph(waToken)
		defer graph.Close()
		bot := telegramtest.New(tgToken)
		defer bot.Close()
		var later atomic.Int64
		cfg := socialConfig(t, b, graph, bot, &later)
		if cfg.Database.DSN == "" {
			cfg.Database.DSN = filepath.Join(t.TempDir(), "shared.db")
		}
		// A NATS server of their own, as in production.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		ns, err := events.StartEmbedded(events.EmbeddedConfig{StoreDir: t.TempDir(), Listen: addr})
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Shutdown()
		cfg.NATS.URL = "nats://" + addr
		cfg.healthInterval = 100 * time.Millisecond
		one := startServer(t, cfg)
		cfg2 := cfg
		cfg2.DataDir = t.TempDir()
		two := startServer(t, cfg2)

		// One takes a WhatsApp message, two a forged delivery.
		if r := one.metaWebhook(readFixture(t, "channels/meta/testdata/whatsapp-text.json")); r.Status != 200 {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		text := readFixture(t, "channels/meta/testdata/whatsapp-text.json")
		if r := two.do("POST", "/channels/meta/wa", jsonType, []byte(text), map[string]string{"X-Hub-Signature-256": meta.Sign("forged", []byte(text))}); r.Status != http.StatusForbidden {
			t.Fatalf("forged: %d", r.Status)
		}
		for _, s := range []*testServer{one, two} {
			var wa *adminv1.Channel
			eventually(t, "both replicas' reports", func() bool {
				r := s.get("/v1/admin/channels", adminToken)
				var list adminv1.ListChannelsResponse
				if r.Status != 200 || protojson.Unmarshal(r.Body, &list) != nil {
					t.Fatalf("ListChannels: %d %s", r.Status, r.Body)
				}
				wa = nil
				for _, c := range list.Channels {
					if c.Kind == "whatsapp" && c.Id == "wa" {
						wa = c
					}
				}
				return wa != nil && len(wa.Replicas) == 2 && wa.Health.ReceivedTotal == 1 && wa.Health.ErrorTotal == 1
			})
			var received, errs int64
			for _, r := range wa.Replicas {
				if r.Replica == "" || r.ReportTime == nil {
					t.Errorf("replica report %+v", r)
				}
				received, errs = received+r.Health.ReceivedTotal, errs+r.Health.ErrorTotal
			}
			if received != 1 || errs != 1 || wa.Replicas[0].Replica == wa.Replicas[1].Replica || wa.Health.LastError == "" {
				t.Fatalf("whatsapp channel %+v", wa)
			}
		}
		// /metrics is per process: replica two received nothing.
		if body := string(two.get("/metrics", "").Body); !strings.Contains(body, `sportello_channel_received_total{channel="wa",kind="whatsapp"} 0`) {
			t.Errorf("replica two's metrics do not show its own count")
		}
	})
}
