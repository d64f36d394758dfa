package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sportello/sportello/auth"
)

// authenticate reads the bearer token, if any, and checks the permission
// table. An invalid token is refused even on public methods, so a client
// with a broken token learns it at once.
func authenticate(ctx context.Context, a auth.Authenticator, method string) (context.Context, error) {
	rule, ok := auth.Permissions[method]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "method %s has no permission entry", method)
	}
	var p *auth.Principal
	if token, found := bearer(ctx); found {
		got, err := a.Authenticate(ctx, token)
		switch {
		case errors.Is(err, auth.ErrUnavailable):
			return nil, status.Error(codes.Unavailable, "the bearer token cannot be checked now: the identity provider is unreachable; retry")
		case err != nil:
			return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
		}
		p = &got
		ctx = auth.WithPrincipal(ctx, got)
	}
	if !rule.Allows(p) {
		switch {
		case p == nil:
			return nil, status.Error(codes.Unauthenticated, "this method needs a bearer token (Authorization: Bearer ...)")
		case rule.Access.Allows(p):
			return nil, status.Errorf(codes.PermissionDenied, "the token's scopes do not include %s, which %s needs", rule.Scope, method)
		}
		return nil, status.Errorf(codes.PermissionDenied, "role %s may not call %s", p.Role, method)
	}
	return ctx, nil
}

// bearer reads the first Authorization value. found is true whenever the
// header is present: a malformed one is an invalid token, not anonymity.
func bearer(ctx context.Context) (token string, found bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return "", false
	}
	if scheme, tok, ok := strings.Cut(vals[0], " "); ok && strings.EqualFold(scheme, "bearer") && tok != "" {
		return strings.TrimSpace(tok), true
	}
	return "", true
}

func authUnary(a auth.Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, a, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w wrappedStream) Context() context.Context { return w.ctx }

func authStream(a auth.Authenticator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), a, info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, wrappedStream{ss, ctx})
	}
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in gRPC handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in gRPC stream", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(srv, ss)
	}
}

type metrics struct {
	rpcs     *prometheus.HistogramVec
	requests *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rpcs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sportello_grpc_server_handling_seconds", Help: "gRPC calls (including those from the REST gateway) by method and code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"method", "code"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sportello_http_request_seconds", Help: "HTTP requests by route group and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"group", "code"}),
	}
	reg.MustRegister(m.rpcs, m.requests)
	return m
}

func (m *metrics) unary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		code := status.Code(err)
		m.rpcs.WithLabelValues(info.FullMethod, code.String()).Observe(time.Since(start).Seconds())
		if code == codes.Internal || code == codes.Unknown {
			log.Error("rpc failed", "method", info.FullMethod, "code", code.String(), "err", err, "request_id", requestID(ctx))
		}
		return resp, err
	}
}

func requestID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-request-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// http logs every non-gRPC request once and measures it. It gives each
// request an X-Request-Id (kept if the client sent a sane one).
func (m *metrics) http(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			next.ServeHTTP(w, r)
			return
		}
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = uuid.NewString()
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		d := time.Since(start)
		m.requests.WithLabelValues(routeGroup(r.URL.Path), strconv.Itoa(rec.code)).Observe(d.Seconds())
		lvl := slog.LevelDebug
		if rec.code >= 500 {
			lvl = slog.LevelError
		} else if rec.code >= 400 {
			lvl = slog.LevelInfo
		}
		log.Log(r.Context(), lvl, "http request", "method", r.Method, "path", r.URL.Path, "status", rec.code,
			"duration_ms", d.Milliseconds(), "request_id", id)
	})
}

// routeGroup keeps metric label cardinality bounded: ids never become labels.
func routeGroup(path string) string {
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	if len(parts) >= 2 && parts[0] == "v1" {
		if parts[1] == "channels" && len(parts) >= 3 {
			return "/v1/channels/" + parts[2]
		}
		return "/v1/" + parts[1]
	}
	switch path {
	case "/healthz", "/readyz", "/metrics", "/openapi.json":
		return path
	}
	return "other"
}
