package server

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"mime"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/attachments"
)

// AttachmentFiles moves attachment content over plain HTTP, where a file
// streams to and from disk instead of riding in one gRPC message.
// services/cases implements it; its methods answer gRPC status errors and
// make the same department checks as the RPCs.
type AttachmentFiles interface {
	Upload(ctx context.Context, caseID, fileName string, content io.Reader) (*casesv1.Attachment, error)
	OpenAttachment(ctx context.Context, id string) (*casesv1.Attachment, io.ReadSeekCloser, error)
	MaxAttachmentSize() int64
}

// attachmentsOpenAPI documents the two routes below.
//
//go:embed attachments_openapi.json
var attachmentsOpenAPI []byte

// multipartSlack is what a multipart body may add to the file: boundaries,
// part headers, a few small fields.
const multipartSlack = 64 << 10

// authenticateHTTP applies to a plain HTTP request what the interceptors
// apply to the RPC method it stands for: the same bearer token check and
// the same permission table entry.
func (s *Server) authenticateHTTP(r *http.Request, method string) (context.Context, error) {
	md := metadata.MD{}
	if a := r.Header.Get("Authorization"); a != "" {
		md.Set("authorization", a)
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		md.Set("x-request-id", id)
	}
	return authenticate(metadata.NewIncomingContext(r.Context(), md), s.deps.Authenticator, method)
}

// uploadAttachment serves POST /v1/cases/{case_id}/attachments: the body is
// the file (named by ?file_name=), or multipart/form-data whose first part
// with a file name is the file. It streams to the blob store.
func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request) {
	ctx, err := s.authenticateHTTP(r, casesv1.CaseService_UploadAttachment_FullMethodName)
	if err != nil {
		writeStatus(w, err)
		return
	}
	limit := s.deps.Attachments.MaxAttachmentSize()
	tooLarge, _ := status.Newf(codes.InvalidArgument, "%v: the limit is %s", attachments.ErrTooLarge, attachments.FormatSize(limit)).
		WithDetails(&errdetails.ErrorInfo{Reason: attachments.ReasonTooLarge, Domain: attachments.ErrorDomain})
	var (
		name    string
		content io.Reader
	)
	body := &bodyLimit{r: http.MaxBytesReader(w, r.Body, limit+multipartSlack)}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		r.Body = body
		mr, err := r.MultipartReader()
		if err != nil {
			writeStatus(w, status.Errorf(codes.InvalidArgument, "malformed multipart body: %v", err))
			return
		}
		for content == nil {
			part, err := mr.NextPart()
			switch {
			case body.tripped:
				writeStatusCode(w, http.StatusRequestEntityTooLarge, tooLarge)
				return
			case errors.Is(err, io.EOF):
				writeStatus(w, status.Error(codes.InvalidArgument, "the multipart body has no file part (a part with a filename)"))
				return
			case err != nil:
				writeStatus(w, status.Errorf(codes.InvalidArgument, "malformed multipart body: %v", err))
				return
			}
			if part.FileName() != "" {
				name, content = part.FileName(), part
			}
		}
	} else {
		if r.ContentLength > limit {
			writeStatusCode(w, http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		name, content = r.URL.Query().Get("file_name"), body
	}
	a, err := s.deps.Attachments.Upload(ctx, r.PathValue("case_id"), name, content)
	switch {
	case body.tripped:
		writeStatusCode(w, http.StatusRequestEntityTooLarge, tooLarge)
	case err != nil:
		writeStatus(w, err)
	default:
		out, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(a)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/v1/attachments/"+a.GetId())
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(out)
	}
}

// downloadAttachment serves GET /v1/attachments/{id}/content from disk,
// with ranges and conditional requests. The stored type is the sniffed
// one, and the headers keep a browser from rendering or running the file
// in the site's origin.
func (s *Server) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	ctx, err := s.authenticateHTTP(r, casesv1.CaseService_GetAttachment_FullMethodName)
	if err != nil {
		writeStatus(w, err)
		return
	}
	a, content, err := s.deps.Attachments.OpenAttachment(ctx, r.PathValue("id"))
	if err != nil {
		writeStatus(w, err)
		return
	}
	defer content.Close()
	attachments.Serve(w, r, a, content)
}

// bodyLimit notes whether the request body went past http.MaxBytesReader's
// limit, which the blob store only sees as a read error.
type bodyLimit struct {
	r       io.ReadCloser
	tripped bool
}

func (b *bodyLimit) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.tripped = true
	}
	return n, err
}

func (b *bodyLimit) Close() error { return b.r.Close() }

// writeStatus answers a gRPC status error as the gateway would: its HTTP
// code and the google.rpc.Status as JSON. Refused uploads get 413 and 415.
func writeStatus(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	code := httpStatus(st.Code())
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == attachments.ErrorDomain {
			switch info.GetReason() {
			case attachments.ReasonTooLarge:
				code = http.StatusRequestEntityTooLarge
			case attachments.ReasonTypeNotAllowed:
				code = http.StatusUnsupportedMediaType
			}
		}
	}
	writeStatusCode(w, code, st)
}

func writeStatusCode(w http.ResponseWriter, code int, st *status.Status) {
	body, _ := protojson.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
