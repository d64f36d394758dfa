package cases

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/uuid"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/attachments"
)

// Attachments stores the metadata of uploads; services/storage implements
// it. Attaching them to a message is part of Messages.AddMessage.
type Attachments interface {
	// CreateAttachment records an upload of case a.CaseID, unattached, and
	// returns it with its creation time.
	CreateAttachment(ctx context.Context, a attachments.Attachment) (attachments.Attachment, error)
	// GetAttachment returns one upload, or attachments.ErrNotFound.
	GetAttachment(ctx context.Context, id string) (attachments.Attachment, error)
}

// UploadAttachment stores a file for a case the caller works.
func (s *Server) UploadAttachment(ctx context.Context, req *casesv1.UploadAttachmentRequest) (*casesv1.Attachment, error) {
	return s.Upload(ctx, req.GetCaseId(), req.GetFileName(), bytes.NewReader(req.GetContent()))
}

// Upload streams content into the blob store and records it as an upload
// of case caseID, which the caller must work (NotFound otherwise). The
// plain HTTP upload route calls it with the request body. The blob is
// durable before its row is committed, so a row never names missing bytes.
func (s *Server) Upload(ctx context.Context, caseID, fileName string, content io.Reader) (*casesv1.Attachment, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if caseID == "" {
		return nil, status.Error(codes.InvalidArgument, "case_id is required")
	}
	c, err := s.Store.GetCase(ctx, caseID)
	if err != nil {
		return nil, toStatus(err)
	}
	if !mayRead(p, c) {
		return nil, status.Errorf(codes.NotFound, "case %s not found", caseID)
	}
	if !p.Staff() && !c.Status.Open() {
		return nil, status.Errorf(codes.FailedPrecondition, "case %s is %s: send a new request", caseID, c.Status)
	}
	blob, err := s.Blobs.Put(ctx, content)
	if err != nil {
		if reason := attachments.Reason(err); reason != "" {
			st, _ := status.New(codes.InvalidArgument, err.Error()).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: attachments.ErrorDomain})
			return nil, st.Err()
		}
		if errors.Is(err, attachments.ErrIncomplete) {
			return nil, status.Error(codes.Canceled, err.Error())
		}
		return nil, s.internal(ctx, "store attachment", err, "case_id", caseID)
	}
	name := attachments.SanitizeFileName(fileName)
	if name == "" {
		name = attachments.DefaultFileName(blob.ContentType)
	}
	a, err := s.Attachments.CreateAttachment(ctx, attachments.Attachment{ID: uuid.Must(uuid.NewV7()).String(), CaseID: c.ID,
		SHA256: blob.SHA256, Size: blob.Size, ContentType: blob.ContentType, FileName: name, UploadedBy: p.Subject})
	if err != nil {
		return nil, toStatus(err)
	}
	return attachmentToProto(a), nil
}

// GetAttachment returns the metadata of an attachment of a case the caller
// works; any other is NotFound, so its existence leaks nothing.
func (s *Server) GetAttachment(ctx context.Context, req *casesv1.GetAttachmentRequest) (*casesv1.Attachment, error) {
	a, err := s.visibleAttachment(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return attachmentToProto(a), nil
}

// OpenAttachment is GetAttachment with the content, for the plain HTTP
// download route. The caller closes the content.
func (s *Server) OpenAttachment(ctx context.Context, id string) (*casesv1.Attachment, io.ReadSeekCloser, error) {
	a, err := s.visibleAttachment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if err := s.recordAccess(ctx, "attachment.download", Case{ID: a.CaseID}, a.ID); err != nil {
		return nil, nil, err
	}
	f, err := s.Blobs.Open(a.SHA256)
	if err != nil {
		// The row exists, so the bytes were stored: their loss is ours.
		return nil, nil, s.internal(ctx, "open attachment", err, "attachment_id", a.ID, "sha256", a.SHA256)
	}
	return attachmentToProto(a), f, nil
}

// MaxAttachmentSize is the upload limit in bytes.
func (s *Server) MaxAttachmentSize() int64 { return s.Blobs.MaxSize() }

func (s *Server) visibleAttachment(ctx context.Context, id string) (attachments.Attachment, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if id == "" {
		return attachments.Attachment{}, status.Error(codes.InvalidArgument, "id is required")
	}
	a, err := s.Attachments.GetAttachment(ctx, id)
	if err != nil {
		return attachments.Attachment{}, toStatus(err)
	}
	c, err := s.Store.GetCase(ctx, a.CaseID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return attachments.Attachment{}, toStatus(err)
	}
	if err != nil || !mayRead(p, c) {
		return attachments.Attachment{}, status.Errorf(codes.NotFound, "attachment %s not found", id)
	}
	if !p.Staff() && !s.citizenMaySee(ctx, a) {
		return attachments.Attachment{}, status.Errorf(codes.NotFound, "attachment %s not found", id)
	}
	return a, nil
}

// internal logs what went wrong and answers INTERNAL without the detail.
func (s *Server) internal(ctx context.Context, what string, err error, attrs ...any) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return toStatus(err)
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.ErrorContext(ctx, what+" failed", append(attrs, "err", err)...)
	return status.Error(codes.Internal, "internal error")
}

func attachmentToProto(a attachments.Attachment) *casesv1.Attachment {
	return &casesv1.Attachment{Id: a.ID, CaseId: a.CaseID, MessageId: a.MessageID, FileName: a.FileName, ContentType: a.ContentType,
		Size: a.Size, Sha256: a.SHA256, UploadedBy: a.UploadedBy, CreateTime: timestamppb.New(a.CreatedAt)}
}
