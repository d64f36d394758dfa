// Package server serves Sportello's gRPC services, their REST/JSON gateway,
// the channels' HTTP endpoints, health, metrics and OpenAPI on one listener.
// The gateway calls the gRPC server through an in-memory connection, so the
// same interceptors authenticate and authorise both. It wires; it holds no
// domain logic.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/sportello/sportello/api/openapi"
	adminv1 "github.com/sportello/sportello/api/sportello/admin/v1"
	callsv1 "github.com/sportello/sportello/api/sportello/calls/v1"
	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	surveysv1 "github.com/sportello/sportello/api/sportello/surveys/v1"
	"github.com/sportello/sportello/auth"
)

// Deps is what the server serves.
type Deps struct {
	Logger        *slog.Logger
	Registry      *prometheus.Registry
	Authenticator auth.Authenticator
	// Ready reports whether the process can do its work (database migrated,
	// JetStream reachable); /readyz and the gRPC health service follow it.
	Ready       func(context.Context) error
	Cases       casesv1.CaseServiceServer
	Contacts    contactsv1.ContactServiceServer
	Directory   directoryv1.DirectoryServiceServer
	DeadLetters adminv1.DeadLetterServiceServer
	AccessLog   adminv1.AccessLogServiceServer
	// Surveys is optional: nil leaves the SurveyService out.
	Surveys surveysv1.SurveyServiceServer
	// Reports is the supervisors' ReportService; nil leaves it out.
	Reports reportsv1.ReportServiceServer
	// Channels lists the channel instances; nil serves an empty list.
	Channels adminv1.ChannelServiceServer
	// Calls is the call centre's call log (services/calls).
	Calls callsv1.CallServiceServer
	// Canned keeps the operator console's canned responses.
	Canned directoryv1.CannedResponseServiceServer
	// Routes are extra HTTP handlers by pattern (channels' webhooks, web).
	Routes map[string]http.Handler
	// OpenAPI fragments (Swagger 2.0 paths and definitions) documenting
	// Routes; merged into the generated document served at /openapi.json.
	OpenAPI [][]byte
	// Attachments serves upload and download of attachment content over
	// plain HTTP; nil leaves those routes out.
	Attachments AttachmentFiles
	// MaxRecvMsgSize caps one gRPC request in bytes (an UploadAttachment
	// carries a whole file); 0 means 4 MiB.
	MaxRecvMsgSize int
}

// Server is the running server.
type Server struct {
	deps   Deps
	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	mem    *bufconn.Listener
	gwConn *grpc.ClientConn
	stop   chan struct{}
}

// Conn is the in-process connection to the gRPC server, through the same
// interceptors as any client: server-rendered pages call the services
// with it.
func (s *Server) Conn() *grpc.ClientConn { return s.gwConn }

// New builds the server. It fails if a registered gRPC method has no entry
// in auth.Permissions.
func New(ctx context.Context, d Deps) (*Server, error) {
	m := newMetrics(d.Registry)
	s := &Server{deps: d, stop: make(chan struct{})}
	maxRecv := d.MaxRecvMsgSize
	if maxRecv <= 0 {
		maxRecv = 4 << 20
	}
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(recoverUnary(d.Logger), m.unary(d.Logger), authUnary(d.Authenticator)),
		grpc.ChainStreamInterceptor(recoverStream(d.Logger), authStream(d.Authenticator)),
		grpc.MaxRecvMsgSize(maxRecv),
	)
	casesv1.RegisterCaseServiceServer(s.grpc, d.Cases)
	contactsv1.RegisterContactServiceServer(s.grpc, d.Contacts)
	directoryv1.RegisterDirectoryServiceServer(s.grpc, d.Directory)
	directoryv1.RegisterCannedResponseServiceServer(s.grpc, d.Canned)
	adminv1.RegisterDeadLetterServiceServer(s.grpc, d.DeadLetters)
	adminv1.RegisterAccessLogServiceServer(s.grpc, d.AccessLog)
	if d.Surveys != nil {
		surveysv1.RegisterSurveyServiceServer(s.grpc, d.Surveys)
	}
	if d.Reports != nil {
		reportsv1.RegisterReportServiceServer(s.grpc, d.Reports)
	}
	if d.Channels == nil {
		d.Channels = emptyChannels{}
	}
	adminv1.RegisterChannelServiceServer(s.grpc, d.Channels)
	callsv1.RegisterCallServiceServer(s.grpc, d.Calls)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if missing := MissingPermissions(s.grpc); len(missing) > 0 {
		return nil, fmt.Errorf("gRPC methods without an entry in auth.Permissions: %s", strings.Join(missing, ", "))
	}

	s.mem = bufconn.Listen(1 << 20)
	go func() { _ = s.grpc.Serve(s.mem) }()
	conn, err := grpc.NewClient("passthrough:///in-memory",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.mem.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	s.gwConn = conn
	gw := runtime.NewServeMux(runtime.WithIncomingHeaderMatcher(headerMatcher))
	if err := casesv1.RegisterCaseServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if err := contactsv1.RegisterContactServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if err := directoryv1.RegisterCannedResponseServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if err := directoryv1.RegisterDirectoryServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if err := adminv1.RegisterDeadLetterServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if err := adminv1.RegisterAccessLogServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if d.Surveys != nil {
		if err := surveysv1.RegisterSurveyServiceHandler(ctx, gw, conn); err != nil {
			return nil, err
		}
	}
	if d.Reports != nil {
		if err := reportsv1.RegisterReportServiceHandler(ctx, gw, conn); err != nil {
			return nil, err
		}
	}
	if err := adminv1.RegisterChannelServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}
	if err := callsv1.RegisterCallServiceHandler(ctx, gw, conn); err != nil {
		return nil, err
	}

	fragments := d.OpenAPI
	if d.Attachments != nil {
		fragments = append(slices.Clone(fragments), attachmentsOpenAPI)
	}
	doc, err := mergeOpenAPI(openapi.Document, fragments...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", gw)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /v1/queue/events", s.queueEvents)
	if d.Attachments != nil {
		mux.HandleFunc("POST /v1/cases/{case_id}/attachments", s.uploadAttachment)
		mux.HandleFunc("GET /v1/attachments/{id}/content", s.downloadAttachment)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	for pattern, h := range d.Routes {
		mux.Handle(pattern, h)
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // gRPC clients speak h2c with prior knowledge
	s.http = &http.Server{
		Handler:           m.http(d.Logger, s.route(mux)),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// route sends gRPC requests to the gRPC server and everything else to mux.
func (s *Server) route(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// headerMatcher forwards the headers interceptors need; the gateway already
// forwards Authorization.
func headerMatcher(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "x-request-id":
		return "x-request-id", true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// Serve serves on ln until Shutdown and keeps the health status in step
// with readiness.
func (s *Server) Serve(ln net.Listener) error {
	go s.watchReadiness()
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) watchReadiness() {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st := healthpb.HealthCheckResponse_SERVING
		if err := s.deps.Ready(ctx); err != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		cancel()
		s.health.SetServingStatus("", st)
		select {
		case <-t.C:
		case <-s.stop:
			return
		}
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ready")
}

// Shutdown stops accepting requests and waits for running ones until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	close(s.stop)
	s.health.Shutdown()
	err := s.http.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	_ = s.gwConn.Close()
	return err
}

// Methods lists every served gRPC method ("/pkg.Service/Method").
func (s *Server) Methods() []string {
	var out []string
	for svc, info := range s.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			out = append(out, "/"+svc+"/"+m.Name)
		}
	}
	sort.Strings(out)
	return out
}

// MissingPermissions lists served methods with no permission table entry.
func MissingPermissions(g *grpc.Server) []string {
	var missing []string
	for svc, info := range g.GetServiceInfo() {
		for _, m := range info.Methods {
			full := "/" + svc + "/" + m.Name
			if _, ok := auth.Permissions[full]; !ok {
				missing = append(missing, full)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// httpStatus maps a gRPC code as the gateway does.
func httpStatus(c codes.Code) int { return runtime.HTTPStatusFromCode(c) }

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// emptyChannels is the channel list of a server without channels.
type emptyChannels struct {
	adminv1.UnimplementedChannelServiceServer
}

func (emptyChannels) ListChannels(context.Context, *adminv1.ListChannelsRequest) (*adminv1.ListChannelsResponse, error) {
	return &adminv1.ListChannelsResponse{}, nil
}
