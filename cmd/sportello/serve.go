package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/cti"
	"github.com/sportello/sportello/channels/email"
	"github.com/sportello/sportello/channels/webform"
	"github.com/sportello/sportello/services/accesslog"
	"github.com/sportello/sportello/services/attachments"
	"github.com/sportello/sportello/services/calls"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/channeladmin"
	"github.com/sportello/sportello/services/contacts"
	"github.com/sportello/sportello/services/deadletters"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/events"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/intake"
	"github.com/sportello/sportello/services/server"
	"github.com/sportello/sportello/services/sla"
	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/services/surveys"
	"github.com/sportello/sportello/web"
	"github.com/sportello/sportello/web/language"
)

// app is a running Sportello: every part started by start, stopped by stop.
type app struct {
	log       *slog.Logger
	db        *storage.DB
	ns        *natsserver.Server // nil with an external cluster
	nc        *nats.Conn
	publisher *events.Publisher
	feed      *events.Feed
	srv       *server.Server
	ln        net.Listener
	// The e-mail channel's listener (nil when off) and poller, stopped
	// before the publisher they deliver to.
	mail         *email.Listener
	stopChannels context.CancelFunc
	channelsDone chan struct{}
	// The social channel instances and their repliers.
	social     *channels.Set
	stopSocial context.CancelFunc
	socialDone chan struct{}
	// Publishing this replica's channel health for the others.
	stopHealth context.CancelFunc
	healthDone chan struct{}

	stopIntake  context.CancelFunc
	intakeDone  chan struct{}
	stopWorkers context.CancelFunc // the outbox relays, the SLA timer, the auto-assigner
	workersDone chan struct{}
	serveDone   chan error    // Serve's result, for the caller to watch
	served      chan struct{} // closed when Serve has returned
	devToken    string
	devIdP      bool // the development identity provider runs
	// The sweeper of expired sessions and login attempts.
	stopCleanup context.CancelFunc
	cleanupDone chan struct{}
}

// Addr is the address the server listens on.
func (a *app) Addr() string { return a.ln.Addr().String() }

// start opens storage and messaging, declares streams, starts intake and
// serves. On error it undoes what it started.
func start(ctx context.Context, cfg Config, log *slog.Logger) (_ *app, err error) {
	a := &app{log: log}
	// Not "a" as a named result: "return nil, err" would nil it before
	// this cleanup runs.
	defer func() {
		if err != nil {
			a.stop(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	loc, _ := time.LoadLocation(cfg.Timezone)

	dsn := cfg.Database.DSN
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "sportello.db")
	}
	if a.db, err = storage.Open(ctx, dsn, storage.WithMaxOpenConns(cfg.Database.MaxOpenConns)); err != nil {
		return nil, err
	}
	if err := a.db.Migrate(ctx, log); err != nil {
		return nil, err
	}
	if cfg.DemoData() {
		if err := seedDemo(ctx, a.db, cfg.demoPolicy); err != nil {
			return nil, err
		}
		if err := seedRules(ctx, a.db, cfg.Email.Domain == email.DemoDomain); err != nil {
			return nil, fmt.Errorf("seed demo routing rules: %w", err)
		}
	}

	if cfg.NATS.URL == "" {
		if a.ns, err = events.StartEmbedded(events.EmbeddedConfig{StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Listen: cfg.NATS.Listen}); err != nil {
			return nil, err
		}
		a.nc, err = events.ConnectEmbedded(a.ns, "sportello")
	} else {
		a.nc, err = events.Connect(cfg.NATS.URL, "sportello")
	}
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return nil, err
	}
	// Declaring the streams creates their file stores, each write synced:
	// on a busy disk that took longer than the JetStream client's default
	// 5 s per request (seen with many servers starting at once), so the
	// declarations get a minute.
	declareCtx, cancelDeclare := context.WithTimeout(ctx, time.Minute)
	consumer, err := events.EnsureStreams(declareCtx, js, events.StreamConfig{Replicas: cfg.NATS.Replicas, AsyncCaseEvents: a.ns != nil})
	cancelDeclare()
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	holidays, _ := cfg.SLA.localHolidays() // validated with the config
	calendar := sla.Config{Location: loc, Week: sla.OfficeHours(), ItalianHolidays: true, Local: holidays}
	warnAt := cfg.SLA.WarnAt
	if warnAt == 0 {
		warnAt = 0.8
	}
	clock, err := sla.NewClock(calendar, a.db, warnAt)
	if err != nil {
		return nil, err
	}
	reporting := startReports(a.db, reg, loc, clock, log)

	// Listen first: the identity providers' URLs, the survey links and the
	// follow links of the web form's acknowledgements name the address.
	if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	publicURL := cfg.publicURL(a.ln.Addr().String())

	intakeCtx, stopIntake := context.WithCancel(context.Background())
	a.stopIntake, a.intakeDone = stopIntake, make(chan struct{})
	reopen, _ := cfg.Intake.reopenWindow() // validated with the config
	ingester := intake.New(a.db, a.db, loc, clock, intake.WithReopenWindow(reopen), intake.WithNow(cfg.intakeNow()),
		intake.WithAcknowledgements(acknowledgements(cfg, publicURL)))
	in := &events.Intake{JS: js, Consumer: consumer, Ingester: ingester, Log: log, Metrics: events.NewIntakeMetrics(reg)}
	go func() {
		defer close(a.intakeDone)
		if err := in.Run(intakeCtx); err != nil {
			log.Error("intake stopped", "err", err)
		}
	}()

	workersCtx, stopWorkers := context.WithCancel(context.Background())
	a.stopWorkers, a.workersDone = stopWorkers, make(chan struct{})
	relay := &events.Relay{JS: js, Outbox: a.db, Log: log, Published: events.NewRelayCounter(reg), Requeue: a.ns != nil}
	slaEvents := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sportello_sla_events_total", Help: "SLA warnings and breaches announced, by type.",
	}, []string{"type"})
	reg.MustRegister(slaEvents)
	timer := &cases.SLATimer{Scanner: a.db, History: a.db, Log: log, Interval: cfg.workerInterval(), Now: cfg.slaNow(),
		Announced: func(e cases.EventType) { slaEvents.WithLabelValues(string(e)).Inc() }}
	replies := &events.OutboundRelay{JS: js, Outbox: a.db, Log: log}
	assigner := &cases.AssignWorker{Assigner: a.db, Log: log, Interval: cfg.workerInterval()}
	workers := []func(context.Context){timer.Run, replies.Run, relay.Run, assigner.Run, reporting.refresher.Run}
	surveyService, surveyWorkers, err := startSurveys(ctx, cfg, a.db, js, publicURL, loc, reg, log)
	if err != nil {
		return nil, err
	}
	workers = append(workers, surveyWorkers...)
	var mailStore email.Store
	mailHealth := email.NewHealth(cfg.Email)
	if cfg.Email.Enabled() {
		allowed := cfg.Email.AllowedTypes
		if allowed == nil {
			allowed = cfg.Attachments.AllowedTypes
		}
		blobs, err := attachments.NewBlobs(cfg.attachmentsDir(), attachments.Policy{MaxSize: int64(cfg.Attachments.MaxSize), Allowed: email.AllowedTypes(allowed)})
		if err != nil {
			return nil, err
		}
		mailStore = email.NewStore(blobs)
		backoff, _ := cfg.Email.SendBackoff() // validated with the config
		mailReplier := email.NewReplier(cfg.Email, mailStore)
		mailReplier.ReportTo(mailHealth)
		sender := &events.Replies{JS: js, Kind: email.Kind, Replier: mailReplier, Deliveries: a.db, Log: log, Backoff: backoff}
		workers = append(workers, func(ctx context.Context) {
			if err := sender.Run(ctx); err != nil {
				log.Error("email replies stopped", "err", err)
			}
		})
	}
	go func() {
		defer close(a.workersDone)
		var wg sync.WaitGroup
		for _, run := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); run(workersCtx) }()
		}
		wg.Wait()
	}()

	a.publisher = events.NewPublisher(js, events.NewPublisherMetrics(reg), cfg.NATS.PublishBatch)
	if err := a.startEmail(cfg.Email, mailStore, mailHealth); err != nil {
		return nil, err
	}
	a.feed = events.NewFeed(js, log)
	if err := a.feed.Start(ctx); err != nil {
		return nil, err
	}
	blobs, err := attachments.NewBlobs(cfg.attachmentsDir(), cfg.Attachments.policy())
	if err != nil {
		return nil, err
	}
	accessLog := accesslog.NewRecorder(a.db)
	portalReopen := reopen
	if portalReopen == 0 {
		portalReopen = -1 // never
	}
	caseServer := cases.NewServer(cases.Deps{ReopenWindow: portalReopen, Access: accessLog, Store: a.db, History: a.db, Claimer: a.db, Workloads: a.db, Messages: a.db, Links: a.db,
		Feed: a.feed, SLA: clock, Creator: ingester, Attachments: a.db, Blobs: blobs, Log: log,
		ReplyGate: replyGate(a.db, cfg.replyNow()), ReplyTemplate: a.replyTemplate, Names: a.db})
	var wf *webform.Handler // the site checks a form as the channel will
	site := web.New(web.Deps{Directory: a.db, SLAPolicies: a.db.ListSLAPolicies, Log: log, Drafts: portalDrafts{a.db},
		Links: web.Links{PrivacyURL: cfg.Web.PrivacyURL, AccessibilityURL: cfg.Web.AccessibilityURL}, Organization: cfg.Web.Organization,
		CaseOfInbound: func(ctx context.Context, contactID string) (cases.Case, error) {
			return a.db.CaseOfInbound(ctx, webform.Kind, webform.Kind, contactID)
		},
		Check: func(ctx context.Context, s *webform.Submission) ([]webform.FieldViolation, error) {
			return wf.Check(ctx, s)
		},
	})
	if err := web.AssetsMissing(); err != nil {
		log.Warn("the pages will have no styles or scripts", "err", err)
	}
	site.SetSurveys(surveyService)
	followTTL, err := cfg.Web.Follow.ttl()
	if err != nil {
		return nil, err
	}
	followLinks := &follow.Service{Store: a.db, BaseURL: publicURL, Mailbox: cfg.webReplyMailbox(), TTL: followTTL,
		PerAddress: cfg.Web.Follow.PerAddress, PerClient: cfg.Web.Follow.PerClient, Now: cfg.followClock, Log: log}
	site.SetFollow(followLinks, caseServer)
	dirServer := directory.NewServer(a.db, a.db, a.db)
	dirServer.Changed = func() { clock.Invalidate(); ingester.Invalidate() }
	depts, err := a.db.ListDepartments(ctx)
	if err != nil {
		return nil, err
	}
	codes := make([]string, len(depts))
	for i, d := range depts {
		codes[i] = d.ID
	}
	ident, err := a.startIdentity(cfg, publicURL, codes, site)
	if err != nil {
		return nil, err
	}
	a.devIdP = ident.dev != nil
	// Follow links first: they are recognised by their prefix, without a
	// lookup, and confined to one case.
	ident.authn = append(auth.Chain{followLinks}, ident.authn...)
	cleanupCtx, stopCleanup := context.WithCancel(context.Background())
	a.stopCleanup, a.cleanupDone = stopCleanup, make(chan struct{})
	go func() {
		defer close(a.cleanupDone)
		ident.cleanup(cleanupCtx, log)
	}()
	wf = webform.New(webform.Config{Sink: a.publisher, KnownCategory: knownCategory(a.db), Logger: log, HTML: site, Language: language.Of})
	form := wf
	if err := checkQueues(cfg.CTI, codes); err != nil {
		return nil, err
	}
	callService := calls.New(calls.Deps{Store: a.db, Contacts: a.db, Cases: a.db, Messages: a.db, Rules: a.db, Intake: ingester, Operators: a.db,
		Notifier: events.CallNotifier{NC: a.nc}, Access: accessLog, Channels: ctiChannels(cfg.CTI), Log: log})
	routes := site.Routes(ident.wrap)
	routes[webform.Path] = wf
	if a.social, err = a.openChannels(cfg, blobs, log); err != nil {
		return nil, err
	}
	for _, ch := range a.social.Adapters() {
		if w, ok := ch.(channels.WebhookReceiver); ok {
			routes[w.WebhookPath()] = w.Webhook()
		}
	}
	a.startSocialReplies(js, cfg, log)
	listed := &channels.Set{}
	listed.Add(a.social.Adapters()...)
	listed.Add(form)
	if cfg.Email.Enabled() {
		listed.Add(mailHealth.Mailboxes()...)
	}
	openAPI := [][]byte{webform.OpenAPI}
	routers := replyRouters{webReplies{contacts: a.db, mailbox: cfg.webReplyMailbox()}}
	caseServer.Replies = routers
	if len(cfg.CTI.Channels) > 0 {
		caseServer.Replies = append(routers, callService)
		pbx := cti.New(cti.Config{Channels: ctiSecrets(cfg.CTI), Backend: callService, Replays: a.db.Replays(nil), Logger: log})
		routes[cti.Pattern] = pbx
		listed.Add(pbx.Adapters()...)
		openAPI = append(openAPI, cti.OpenAPI)
	}
	// Every channel is in listed before the health goroutine reads it.
	reg.MustRegister(channeladmin.Collector{List: listed.Adapters})
	channelAdmin, err := a.shareChannelHealth(ctx, js, cfg, listed, log)
	if err != nil {
		return nil, err
	}
	for pattern, h := range ident.routes {
		routes[pattern] = ident.wrap(h)
	}
	for pattern, h := range site.FollowRoutes(ident.wrap) {
		routes[pattern] = h
	}
	for pattern, h := range site.SurveyRoutes() {
		routes[pattern] = h // anonymous by design: no session is read
	}
	reporting.route(ident, routes)
	operatorConsole, err := startConsole(ctx, js, cfg.NATS.Replicas, ident, routes, loc, log)
	if err != nil {
		return nil, err
	}
	operatorConsole.SetReplyTemplates(a.consoleTemplates)
	a.srv, err = server.New(ctx, server.Deps{
		Logger: log, Registry: reg, Authenticator: ident.authn,
		Ready:       a.ready(js),
		Cases:       caseServer,
		Attachments: caseServer,
		Contacts:    &contacts.Server{Contacts: a.db, Cases: a.db, Links: a.db, Access: accessLog, Merger: a.db},
		Channels:    channelAdmin,
		// An UploadAttachment carries the whole file, plus the request's
		// other fields and framing.
		MaxRecvMsgSize: max(4<<20, int(blobs.MaxSize())+1<<20),
		Directory:      dirServer,
		Canned:         &directory.CannedServer{Store: a.db, Departments: a.db.ListDepartments},
		DeadLetters:    deadletters.NewServer(&events.DeadLetters{JS: js}),
		AccessLog:      accesslog.NewServer(a.db),
		Surveys:        &surveys.Server{Service: surveyService, Administration: cfg.Surveys.AdministrationID(), MinGroupSize: cfg.Surveys.K(), Log: log},
		Reports:        reporting.server,
		Calls:          calls.NewServer(callService),
		Routes:         routes,
		OpenAPI:        openAPI,
	})
	if err != nil {
		return nil, err
	}
	site.SetCases(casesv1.NewCaseServiceClient(a.srv.Conn()))
	reporting.page.SetClient(reportsv1.NewReportServiceClient(a.srv.Conn()))
	operatorConsole.SetConn(a.srv.Conn(), caseServer)
	a.serveDone, a.served = make(chan error, 1), make(chan struct{})
	go func() {
		defer close(a.served)
		a.serveDone <- a.srv.Serve(a.ln)
	}()
	return a, nil
}

// startEmail starts the e-mail channel's listener and IMAP poller, which
// deliver to the publisher.
func (a *app) startEmail(cfg email.Config, store email.Store, health *email.Health) error {
	if !cfg.Enabled() {
		return nil
	}
	receiver := email.NewReceiver(cfg, a.publisher, store, a.log)
	receiver.ReportTo(health)
	if cfg.Listener.Listen != "" {
		l, err := email.NewListener(cfg, receiver, a.log)
		if err != nil {
			return err
		}
		if err := l.Start(); err != nil {
			return err
		}
		a.mail = l
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopChannels, a.channelsDone = cancel, make(chan struct{})
	go func() {
		defer close(a.channelsDone)
		email.NewPoller(receiver, a.log).Run(ctx)
	}()
	return nil
}

// startSocialReplies starts one OUTBOUND consumer per social channel kind,
// sending through the kind's instances.
func (a *app) startSocialReplies(js jetstream.JetStream, cfg Config, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopSocial, a.socialDone = cancel, make(chan struct{})
	var wg sync.WaitGroup
	byKind := map[string]channels.Dispatch{}
	for _, ch := range a.social.Adapters() {
		if r, ok := ch.(channels.Replier); ok {
			if byKind[ch.Kind()] == nil {
				byKind[ch.Kind()] = channels.Dispatch{}
			}
			byKind[ch.Kind()][ch.ID()] = r
		}
	}
	for kind, d := range byKind {
		r := &events.Replies{JS: js, Kind: kind, Replier: d, Deliveries: a.db, Messages: a.db, Parts: a.db, Log: log, Backoff: cfg.socialBackoff}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				log.Error("replies stopped", "kind", kind, "err", err)
			}
		}()
	}
	// WhatsApp channels with a waba_id fetch their templates from Meta.
	for _, ch := range a.social.Adapters() {
		if ts, ok := ch.(interface{ SyncTemplatesLoop(context.Context) }); ok {
			wg.Add(1)
			go func() { defer wg.Done(); ts.SyncTemplatesLoop(ctx) }()
		}
	}
	go func() { wg.Wait(); close(a.socialDone) }()
}

// MailAddr is the inbound SMTP listener's address, "" when there is none.
func (a *app) MailAddr() string {
	if a.mail == nil {
		return ""
	}
	return a.mail.Addr()
}

// acknowledgements renders the e-mail channel's acknowledgements of new
// cases, and those of web-form cases, sent by e-mail from the reply
// mailbox with a follow link (web.acknowledgement); other channels send
// none.
func acknowledgements(cfg Config, publicURL string) intake.Acknowledgements {
	limit, window, _ := cfg.Email.AckLimit() // validated with the config
	ttl, _ := cfg.Web.Follow.ttl()           // validated with the config
	mailbox := cfg.webReplyMailbox()
	acks := intake.Acknowledgements{Limit: limit, Window: window, LinkTTL: ttl, Render: func(r intake.AckRequest) (string, bool) {
		if r.ChannelKind == webform.Kind && r.FollowToken != "" {
			return follow.AckText(follow.Ack{Language: r.Language, Name: r.CitizenName, Reference: r.Reference, Subject: r.Subject,
				FirstResponseDue: r.FirstResponseDue, Link: strings.TrimRight(publicURL, "/") + web.FollowPath + "/" + r.FollowToken,
				Expires: r.FollowExpires}), true
		}
		if r.ChannelKind != email.Kind {
			return "", false
		}
		return cfg.Email.RenderAck(r.ChannelID, r.Department, r.Language,
			email.AckData{Reference: r.Reference, Subject: r.Subject, Name: r.CitizenName, Department: r.Department})
	}}
	if mailbox != "" && cfg.acknowledgesWebForms() {
		acks.Relay = func(kind string) (string, string, bool) {
			return email.Kind, mailbox, kind == webform.Kind
		}
	}
	return acks
}

// ready is the readiness check: schema current, JetStream answering.
func (a *app) ready(js jetstream.JetStream) func(context.Context) error {
	return func(ctx context.Context) error {
		cur, latest, err := a.db.MigrationStatus(ctx)
		if err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if cur < latest {
			return fmt.Errorf("database schema at version %d, want %d", cur, latest)
		}
		if _, err := js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("jetstream: %w", err)
		}
		return nil
	}
}

// stop shuts down in dependency order: stop taking requests (in-flight
// submissions finish publishing), then let intake drain what it holds
// (commit, then ack), then close messaging and storage.
func (a *app) stop(ctx context.Context) {
	t0 := time.Now()
	phase := func(name string) { a.log.Debug("shutdown phase done", "phase", name, "elapsed", time.Since(t0)) }
	if a.feed != nil {
		a.feed.Close() // ends the watches, which graceful shutdown would wait for
	}
	if a.ln != nil && a.served == nil {
		_ = a.ln.Close() // start failed before serving
	}
	if a.srv != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			a.log.Warn("http shutdown", "err", err)
		}
		if a.served != nil {
			<-a.served
		}
		phase("http")
	}
	if a.mail != nil {
		if err := a.mail.Shutdown(ctx); err != nil {
			a.log.Warn("email listener shutdown", "err", err)
		}
		phase("email listener")
	}
	if a.stopChannels != nil {
		a.stopChannels()
		<-a.channelsDone
		phase("imap")
	}
	if a.social != nil {
		if err := a.social.Close(); err != nil {
			a.log.Warn("closing channels", "err", err)
		}
	}
	if a.stopSocial != nil {
		a.stopSocial()
		<-a.socialDone
		phase("social replies")
	}
	if a.stopHealth != nil {
		a.stopHealth()
		<-a.healthDone
	}
	if a.publisher != nil {
		a.publisher.Close()
		phase("publisher")
	}
	if a.stopIntake != nil {
		a.stopIntake()
		select {
		case <-a.intakeDone:
		case <-ctx.Done():
			a.log.Warn("intake did not drain in time; unacked messages will be redelivered")
		}
		phase("intake")
	}
	if a.stopWorkers != nil {
		// What the relay has not published yet stays in the outbox for the
		// next start; the SLA timer's next tick is another replica's or ours.
		a.stopWorkers()
		<-a.workersDone
		phase("workers")
	}
	if a.stopCleanup != nil {
		a.stopCleanup()
		<-a.cleanupDone
	}
	if a.nc != nil {
		a.nc.Close()
	}
	if a.ns != nil {
		a.ns.Shutdown()
		a.ns.WaitForShutdown()
		phase("nats")
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

// devToken returns the development admin token of the data dir, creating
// it on first use. It exists only in the embedded mode.
func devToken(dir string) (string, error) {
	path := filepath.Join(dir, "dev-admin-token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := "dev_" + base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write development token: %w", err)
	}
	return tok, nil
}

// knownCategory answers from a catalogue cached for a few seconds, so a
// burst of submissions does not query the database once each.
func knownCategory(store directory.Store) func(context.Context, string) (bool, error) {
	var (
		mu     sync.Mutex
		codes  map[string]bool
		loaded time.Time
	)
	return func(ctx context.Context, code string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if codes == nil || time.Since(loaded) > 10*time.Second {
			list, err := store.ListCategories(ctx)
			if err != nil {
				return false, err
			}
			codes = make(map[string]bool, len(list))
			for _, c := range list {
				codes[c.Code] = true
			}
			loaded = time.Now()
		}
		return codes[code], nil
	}
}

// seedDemo adds the demo directory entries that are not there yet (by
// id), leaving an administrator's changes to them alone across restarts;
// policy, when set, replaces the demo departments' assignment policy.
func seedDemo(ctx context.Context, db *storage.DB, policy string) error {
	depts := slices.Clone(directory.Demo.Departments)
	for i := range depts {
		if policy != "" {
			depts[i].Policy = policy
		}
	}
	if err := seedMissing(ctx, "departments", depts, db.ListDepartments, db.UpsertDepartments,
		func(a, b directory.Department) bool { return a.ID == b.ID }); err != nil {
		return err
	}
	if err := seedMissing(ctx, "categories", directory.Demo.Categories, db.ListCategories, db.UpsertCategories,
		func(a, b directory.Category) bool { return a.Code == b.Code }); err != nil {
		return err
	}
	listOps := func(ctx context.Context) ([]directory.Operator, error) { return db.ListOperators(ctx, "") }
	if err := seedMissing(ctx, "operators", directory.Demo.Operators, listOps, db.UpsertOperators,
		func(a, b directory.Operator) bool { return a.ID == b.ID }); err != nil {
		return err
	}
	return seedMissing(ctx, "SLA policies", sla.DemoPolicies(), db.ListSLAPolicies, db.UpsertSLAPolicies,
		func(a, b sla.Policy) bool { return a.Department == b.Department && a.Priority == b.Priority })
}

// seedMissing adds the demo entries that list does not return yet (same
// says which are the same entry).
func seedMissing[T any](ctx context.Context, what string, demo []T, list func(context.Context) ([]T, error),
	add func(context.Context, []T) error, same func(a, b T) bool) error {
	have, err := list(ctx)
	if err != nil {
		return fmt.Errorf("seed demo %s: %w", what, err)
	}
	var missing []T
	for _, d := range demo {
		if !slices.ContainsFunc(have, func(h T) bool { return same(h, d) }) {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := add(ctx, missing); err != nil {
		return fmt.Errorf("seed demo %s: %w", what, err)
	}
	return nil
}

// demoMailRules route the demo mailboxes by receiving address.
var demoMailRules = []directory.Rule{
	{Name: "posta dati", Position: 40, Department: "statistics", ToAddress: "dati@" + email.DemoDomain, Enabled: true},
	{Name: "posta ufficio stampa", Position: 41, Department: "communication", ToAddress: "ufficiostampa@" + email.DemoDomain, Enabled: true},
}

// seedRules adds the demo routing rules that are not there yet (by name),
// leaving an administrator's changes alone; demoMail adds those of the
// demo mailboxes.
func seedRules(ctx context.Context, db *storage.DB, demoMail bool) error {
	have, err := db.ListRoutingRules(ctx)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, r := range have {
		names[r.Name] = true
	}
	rules := directory.DemoRules
	if demoMail {
		rules = slices.Concat(rules, demoMailRules)
	}
	for _, r := range rules {
		if !names[r.Name] {
			if _, err := db.CreateRoutingRule(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// ctiChannels is what services/calls needs of the CTI channels.
func ctiChannels(s cti.Settings) map[string]calls.ChannelConfig {
	out := map[string]calls.ChannelConfig{}
	for _, c := range s.Channels {
		out[c.ID] = calls.ChannelConfig{CallerID: c.Normalised(), Queues: c.Queues, ReplyMailbox: c.ReplyMailbox}
	}
	return out
}

// ctiSecrets is what the webhook needs of the CTI channels.
func ctiSecrets(s cti.Settings) map[string]cti.Channel {
	out := map[string]cti.Channel{}
	for _, c := range s.Channels {
		out[c.ID] = cti.Channel{Secret: []byte(c.Secret)}
	}
	return out
}

// checkQueues refuses a CTI queue mapped to a department that does not exist.
func checkQueues(s cti.Settings, depts []string) error {
	for _, c := range s.Channels {
		for q, d := range c.Queues {
			if !slices.Contains(depts, d) {
				return fmt.Errorf("cti.channels %q: queue %q maps to department %q, which does not exist", c.ID, q, d)
			}
		}
	}
	return nil
}
