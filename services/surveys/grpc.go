package surveys

import (
	"context"
	"errors"

	"log/slog"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	surveysv1 "github.com/sportello/sportello/api/sportello/surveys/v1"
	"github.com/sportello/sportello/auth"
)

// Server is the gRPC SurveyService.
type Server struct {
	surveysv1.UnimplementedSurveyServiceServer
	Service *Service
	// Administration identifies this administration in results and exports
	// (configuration surveys.administration).
	Administration string
	// MinGroupSize is k; DefaultMinGroupSize when zero.
	MinGroupSize int
	Log          *slog.Logger
}

var _ surveysv1.SurveyServiceServer = (*Server)(nil)

func (s *Server) k() int {
	if s.MinGroupSize <= 0 {
		return DefaultMinGroupSize
	}
	return s.MinGroupSize
}

// ListQuestionnaires returns every version, newest first.
func (s *Server) ListQuestionnaires(ctx context.Context, _ *surveysv1.ListQuestionnairesRequest) (*surveysv1.ListQuestionnairesResponse, error) {
	if _, err := s.Service.Current(ctx); err != nil { // version 1 exists from the first read on
		return nil, s.toStatus(err)
	}
	list, err := s.Service.Store.ListQuestionnaires(ctx)
	if err != nil {
		return nil, s.toStatus(err)
	}
	resp := &surveysv1.ListQuestionnairesResponse{}
	for _, q := range list {
		resp.Questionnaires = append(resp.Questionnaires, questionnaireToProto(q))
	}
	return resp, nil
}

// CreateQuestionnaireVersion stores a new version.
func (s *Server) CreateQuestionnaireVersion(ctx context.Context, req *surveysv1.CreateQuestionnaireVersionRequest) (*surveysv1.Questionnaire, error) {
	if req.GetQuestionnaire() == nil {
		return nil, status.Error(codes.InvalidArgument, "questionnaire is required")
	}
	q := questionnaireFromProto(req.GetQuestionnaire())
	if err := q.Validate(); err != nil {
		return nil, s.toStatus(err)
	}
	if _, err := s.Service.Current(ctx); err != nil { // keep the default as version 1
		return nil, s.toStatus(err)
	}
	p, _ := auth.PrincipalFrom(ctx)
	q.CreatedBy = p.Subject
	created, err := s.Service.Store.CreateQuestionnaire(ctx, q)
	if err != nil {
		return nil, s.toStatus(err)
	}
	return questionnaireToProto(created), nil
}

// GetSurveyResults aggregates responses, suppressing small groups.
func (s *Server) GetSurveyResults(ctx context.Context, req *surveysv1.GetSurveyResultsRequest) (*surveysv1.GetSurveyResultsResponse, error) {
	q := Query{StartMonth: req.GetStartMonth(), EndMonth: req.GetEndMonth(), Departments: req.GetDepartments()}
	for _, g := range req.GetGroupBy() {
		q.GroupBy = append(q.GroupBy, Dimension(strings.ToLower(strings.TrimSpace(g))))
	}
	rows, err := s.results(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &surveysv1.GetSurveyResultsResponse{MinGroupSize: int32(s.k())}
	for _, r := range rows {
		resp.Rows = append(resp.Rows, &surveysv1.SurveyResultRow{Administration: r.Administration, QuestionnaireVersion: int32(r.Version),
			Category: r.Category, Department: r.Department, Channel: r.Channel, Month: r.Month, Suppressed: r.Suppressed,
			Responses: r.Responses, EaseMean: round2(r.EaseMean), EaseCounts: r.EaseCounts[:], ResolvedYes: r.ResolvedYes,
			ResolvedPartly: r.ResolvedPartly, ResolvedNo: r.ResolvedNo})
	}
	return resp, nil
}

// ExportSurveyResults returns every dimension's groups as CSV or JSON.
func (s *Server) ExportSurveyResults(ctx context.Context, req *surveysv1.ExportSurveyResultsRequest) (*httpbody.HttpBody, error) {
	format := strings.ToLower(strings.TrimSpace(req.GetFormat()))
	if format != "" && format != "csv" && format != "json" {
		return nil, status.Errorf(codes.InvalidArgument, "format %q: want csv or json", req.GetFormat())
	}
	rows, err := s.results(ctx, Query{GroupBy: Dimensions, StartMonth: req.GetStartMonth(), EndMonth: req.GetEndMonth(), Departments: req.GetDepartments()})
	if err != nil {
		return nil, err
	}
	if format == "json" {
		b, err := ExportJSON(rows, s.k())
		if err != nil {
			return nil, s.toStatus(err)
		}
		return &httpbody.HttpBody{ContentType: "application/json", Data: b}, nil
	}
	b, err := ExportCSV(rows)
	if err != nil {
		return nil, s.toStatus(err)
	}
	return &httpbody.HttpBody{ContentType: "text/csv; charset=utf-8; header=present", Data: b}, nil
}

// results runs q within the caller's departments: supervisors see theirs,
// administrators and service accounts all.
func (s *Server) results(ctx context.Context, q Query) ([]Row, error) {
	if err := q.Validate(); err != nil {
		return nil, s.toStatus(err)
	}
	p, _ := auth.PrincipalFrom(ctx)
	if !p.AllDepartments() {
		for _, d := range q.Departments {
			if !slices.Contains(p.Departments, d) {
				return nil, status.Errorf(codes.PermissionDenied, "department %q is not one of yours", d)
			}
		}
		if len(q.Departments) == 0 {
			q.Departments = append([]string{}, p.Departments...)
		}
	} else if len(q.Departments) == 0 {
		q.Departments = nil
	}
	cells, err := s.Service.Store.Results(ctx, q)
	if err != nil {
		return nil, s.toStatus(err)
	}
	return Publish(cells, s.k(), s.Administration), nil
}

func (s *Server) toStatus(err error) error {
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	if s.Log != nil {
		s.Log.Error("surveys: internal error", "err", err)
	}
	return status.Error(codes.Internal, "internal error")
}

func textToProto(t Text) *surveysv1.LocalizedText {
	return &surveysv1.LocalizedText{It: t.IT, En: t.EN}
}

func textFromProto(t *surveysv1.LocalizedText) Text {
	return Text{IT: strings.TrimSpace(t.GetIt()), EN: strings.TrimSpace(t.GetEn())}
}

func optionsToProto(os []Option) []*surveysv1.Option {
	out := make([]*surveysv1.Option, len(os))
	for i, o := range os {
		out[i] = &surveysv1.Option{Code: o.Code, Label: textToProto(o.Label)}
	}
	return out
}

func optionsFromProto(os []*surveysv1.Option) []Option {
	out := make([]Option, len(os))
	for i, o := range os {
		out[i] = Option{Code: strings.TrimSpace(o.GetCode()), Label: textFromProto(o.GetLabel())}
	}
	return out
}

func questionnaireToProto(q Questionnaire) *surveysv1.Questionnaire {
	return &surveysv1.Questionnaire{Version: int32(q.Version), CreateTime: timestamppb.New(q.CreatedAt), CreatedBy: q.CreatedBy,
		EaseQuestion: textToProto(q.EaseQuestion), DifficultiesQuestion: textToProto(q.DifficultiesQuestion),
		Difficulties: optionsToProto(q.Difficulties), PreferredQuestion: textToProto(q.PreferredQuestion),
		Preferred: optionsToProto(q.Preferred), CommentQuestion: textToProto(q.CommentQuestion),
		ResolvedQuestion: textToProto(q.ResolvedQuestion)}
}

func questionnaireFromProto(p *surveysv1.Questionnaire) Questionnaire {
	return Questionnaire{EaseQuestion: textFromProto(p.GetEaseQuestion()), DifficultiesQuestion: textFromProto(p.GetDifficultiesQuestion()),
		Difficulties: optionsFromProto(p.GetDifficulties()), PreferredQuestion: textFromProto(p.GetPreferredQuestion()),
		Preferred: optionsFromProto(p.GetPreferred()), CommentQuestion: textFromProto(p.GetCommentQuestion()),
		ResolvedQuestion: textFromProto(p.GetResolvedQuestion())}
}
