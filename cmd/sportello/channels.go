package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/meta"
	"github.com/sportello/sportello/channels/telegram"
	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/channeladmin"
	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/web/console"
)

// ChannelEntry is one item of the channels list: a channel instance of a
// kind, with its kind's own config section.
type ChannelEntry struct {
	// Type is the channel kind: whatsapp, messenger, instagram, telegram.
	Type string `yaml:"type"`
	// ID names the instance in URLs, subjects and the console; unique.
	ID     string    `yaml:"id"`
	Config yaml.Node `yaml:"config"`
}

// channelKinds are the kinds the channels list may name.
func channelKinds() map[string]channels.Factory {
	return map[string]channels.Factory{
		meta.KindWhatsApp:  meta.Factory(meta.KindWhatsApp),
		meta.KindMessenger: meta.Factory(meta.KindMessenger),
		meta.KindInstagram: meta.Factory(meta.KindInstagram),
		telegram.Kind:      telegram.Factory,
	}
}

// channelEntries turns the config's list into channels.Entry values whose
// Decode rejects unknown fields.
func (c Config) channelEntries() []channels.Entry {
	out := make([]channels.Entry, len(c.Channels))
	for i, e := range c.Channels {
		node := e.Config
		out[i] = channels.Entry{Type: e.Type, ID: e.ID, Decode: func(v any) error {
			if node.Kind == 0 {
				return nil
			}
			resolved, err := secretFiles(node)
			if err != nil {
				return fmt.Errorf("config (from line %d of the file): %w", node.Line, err)
			}
			data, err := yaml.Marshal(&resolved)
			if err != nil {
				return err
			}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
				// Lines in err count from the config section, which starts at node.Line.
				return fmt.Errorf("config (from line %d of the file): %w", node.Line, err)
			}
			return nil
		}}
	}
	return out
}

// secretFiles returns a copy of a channel's config section where every
// "<key>_file: <path>" became "<key>: <the file's content>" (without the
// trailing newline), so secrets (app_secret, access_token, token,
// secret_token ...) can live in files only the service reads (mounted
// secrets) instead of the configuration file. Giving both is an error.
func secretFiles(node yaml.Node) (yaml.Node, error) {
	if node.Kind != yaml.MappingNode {
		return node, nil
	}
	out := node
	out.Content = make([]*yaml.Node, 0, len(node.Content))
	have := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		have[node.Content[i].Value] = true
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		key, ok := strings.CutSuffix(k.Value, "_file")
		if !ok || key == "" || v.Kind != yaml.ScalarNode {
			out.Content = append(out.Content, k, v)
			continue
		}
		if have[key] {
			return node, fmt.Errorf("%s and %s are both set: give one", key, k.Value)
		}
		b, err := os.ReadFile(v.Value)
		if err != nil {
			return node, fmt.Errorf("%s: %w", k.Value, err)
		}
		nk, nv := *k, *v
		nk.Value = key
		nv.Value, nv.Tag, nv.Style = strings.TrimRight(string(b), "\r\n"), "!!str", 0
		out.Content = append(out.Content, &nk, &nv)
	}
	return out, nil
}

// validateChannels opens the configured channels without dependencies to
// check them, and closes them.
func (c Config) validateChannels() error {
	set, err := channels.Open(c.channelEntries(), channelKinds(), channels.Deps{})
	if err != nil {
		return err
	}
	return set.Close()
}

// channelBlobs is the attachments blob store as channels see it.
type channelBlobs struct{ *attachments.Blobs }

func (b channelBlobs) Put(ctx context.Context, r io.Reader) (channels.Blob, error) {
	blob, err := b.Blobs.Put(ctx, r)
	return channels.Blob{SHA256: blob.SHA256, Size: blob.Size, ContentType: blob.ContentType}, err
}

func (b channelBlobs) Open(sum string) (io.ReadCloser, error) { return b.Blobs.Open(sum) }

// deliveryStatuses records providers' status callbacks on our messages.
type deliveryStatuses struct{ db *storage.DB }

func (s deliveryStatuses) RecordStatus(ctx context.Context, st channels.Status) error {
	d := cases.Delivery{Status: st.Status, Error: st.Error}
	if st.Status == cases.DeliveryFailed && d.Error == "" {
		d.Error = "the platform reported the message as not delivered"
	}
	err := s.db.RecordDeliveryByExternalID(ctx, st.ChannelKind, st.ChannelID, st.ExternalID, d)
	if errors.Is(err, cases.ErrNotFound) {
		return fmt.Errorf("%w: %v", channels.ErrUnknownMessage, err)
	}
	return err
}

// openChannels opens the configured channel instances.
func (a *app) openChannels(cfg Config, blobs *attachments.Blobs, log *slog.Logger) (*channels.Set, error) {
	return channels.Open(cfg.channelEntries(), channelKinds(), channels.Deps{
		Sink: a.publisher, Statuses: deliveryStatuses{a.db}, Blobs: channelBlobs{blobs}, Log: log,
		Client: &http.Client{Timeout: time.Minute},
	})
}

// replyGate refuses staff replies on a case of a platform with a reply
// window (WhatsApp, Messenger, Instagram) once the citizen's last message
// on that channel is older than the window, so the operator learns it from
// AddMessage rather than from a failed delivery.
func replyGate(db *storage.DB, now func() time.Time) func(context.Context, cases.Case) error {
	return func(ctx context.Context, c cases.Case) error {
		switch c.ChannelKind {
		case meta.KindWhatsApp, meta.KindMessenger, meta.KindInstagram:
		default:
			return nil
		}
		last, err := db.LastInbound(ctx, c.ContactID, c.ChannelKind, c.ChannelID)
		if err != nil {
			return err
		}
		if !last.IsZero() && now().Sub(last) <= meta.ReplyWindow {
			return nil
		}
		when := "has never written on this channel"
		if !last.IsZero() {
			when = "last wrote on " + last.Format("2006-01-02 15:04 MST")
		}
		return fmt.Errorf("%w: the citizen %s; %s accepts free-form replies only within 24 hours of the citizen's last message "+
			"(after that only approved templates): answer on another channel or wait for the citizen to write", cases.ErrReplyWindowClosed, when, c.ChannelKind)
	}
}

// templater is a channel instance with approved message templates
// (meta.Adapter of kind WhatsApp); CheckTemplate refuses one Meta no
// longer approves (template sync).
type templater interface {
	Templates() []meta.Template
	CheckTemplate(meta.Template) error
}

// channelTemplates returns the approved message templates of the channel
// instance kind/id; none for other kinds or before the channels open.
func (a *app) channelTemplates(kind, id string) []meta.Template {
	if a.social == nil || kind != meta.KindWhatsApp {
		return nil
	}
	for _, ch := range a.social.Adapters() {
		if t, ok := ch.(templater); ok && ch.Kind() == kind && ch.ID() == id {
			return t.Templates()
		}
	}
	return nil
}

// replyTemplate checks a staff reply by message template on case c
// against the approved templates of the case's channel instance and
// returns the text the citizen receives.
func (a *app) replyTemplate(_ context.Context, c cases.Case, req cases.Template) (string, error) {
	name := req.Name
	args := meta.TemplateArgs{Params: req.Params, Named: req.Named, Buttons: req.Buttons}
	if h := req.Header; h != nil {
		args.HeaderText, args.HeaderLink, args.HeaderID, args.HeaderFileName = h.Text, h.MediaLink, h.MediaID, h.FileName
	}
	if c.ChannelKind != meta.KindWhatsApp {
		return "", fmt.Errorf("%w: message templates are for WhatsApp cases; this case's channel is %s", cases.ErrInvalidArgument, c.ChannelKind)
	}
	for _, t := range a.channelTemplates(c.ChannelKind, c.ChannelID) {
		if t.Name == name {
			if err := a.checkTemplate(c.ChannelKind, c.ChannelID, t); err != nil {
				return "", fmt.Errorf("%w: %v", cases.ErrInvalidArgument, err)
			}
			body, err := t.Render(args)
			if err != nil {
				return "", fmt.Errorf("%w: %v", cases.ErrInvalidArgument, err)
			}
			return body, nil
		}
	}
	return "", fmt.Errorf("%w: %q is not an approved message template of WhatsApp channel %s", cases.ErrInvalidArgument, name, c.ChannelID)
}

// checkTemplate asks the channel instance whether Meta still approves t.
func (a *app) checkTemplate(kind, id string, t meta.Template) error {
	for _, ch := range a.social.Adapters() {
		if tp, ok := ch.(templater); ok && ch.Kind() == kind && ch.ID() == id {
			return tp.CheckTemplate(t)
		}
	}
	return nil
}

// consoleTemplates are the channel instance's message templates as the
// operator console lists them: those Meta has withdrawn are left out.
func (a *app) consoleTemplates(kind, id string) []console.ReplyTemplate {
	var out []console.ReplyTemplate
	for _, t := range a.channelTemplates(kind, id) {
		// The console's form fills positional body parameters only:
		// templates with named parameters, a header or buttons are sent
		// through the API (AddMessage).
		if a.checkTemplate(kind, id, t) != nil || !t.BodyOnly() {
			continue
		}
		out = append(out, console.ReplyTemplate{Name: t.Name, Language: t.Language, Body: t.Body, Params: t.Params})
	}
	return out
}

// channelHealthInterval is how often a replica publishes its channels'
// health for the others (well within events.ChannelHealthTTL).
const channelHealthInterval = 10 * time.Second

// replicaName names this process among the replicas: its host name (the
// pod's, on Kubernetes) and a suffix of its own, since two processes may
// share a host.
func replicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "sportello"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// shareChannelHealth publishes this replica's channel health on the NATS
// KV bucket every channelHealthInterval, and returns the ChannelService
// that lists every replica's.
func (a *app) shareChannelHealth(ctx context.Context, js jetstream.JetStream, cfg Config, listed *channels.Set, log *slog.Logger) (*channeladmin.Server, error) {
	board, err := events.NewChannelHealth(ctx, js, cfg.NATS.Replicas)
	if err != nil {
		return nil, err
	}
	srv := &channeladmin.Server{List: listed.Adapters, Board: board, Replica: replicaName(), Log: log}
	hctx, cancel := context.WithCancel(context.Background())
	a.stopHealth, a.healthDone = cancel, make(chan struct{})
	go func() {
		defer close(a.healthDone)
		interval := channelHealthInterval
		if cfg.healthInterval > 0 {
			interval = cfg.healthInterval
		}
		channeladmin.Share(hctx, board, srv.Replica, listed.Adapters, interval, log)
	}()
	return srv, nil
}
