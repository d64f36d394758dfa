package reports

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
	"github.com/sportello/sportello/auth"
)

// Server is the gRPC ReportService. Access (supervisors, administrators,
// service accounts with reports:read) is checked by the permission table;
// the server narrows each report to the caller's departments.
type Server struct {
	reportsv1.UnimplementedReportServiceServer
	Reporter *Reporter
}

var _ reportsv1.ReportServiceServer = (*Server)(nil)

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, "the report could not be computed")
}

func (s *Server) filter(ctx context.Context, dept string, start, end *timestamppb.Timestamp) (Filter, error) {
	p, _ := auth.PrincipalFrom(ctx)
	for _, ts := range []*timestamppb.Timestamp{start, end} {
		if ts != nil {
			if err := ts.CheckValid(); err != nil {
				return Filter{}, status.Error(codes.InvalidArgument, "invalid timestamp: "+err.Error())
			}
		}
	}
	var from, to time.Time // zero: the default
	if start != nil {
		from = start.AsTime()
	}
	if end != nil {
		to = end.AsTime()
	}
	f, err := s.Reporter.Filter(p, dept, from, to)
	if err != nil {
		return Filter{}, toStatus(err)
	}
	return f, nil
}

// GetVolumeReport implements reportsv1.ReportServiceServer.
func (s *Server) GetVolumeReport(ctx context.Context, req *reportsv1.GetVolumeReportRequest) (*reportsv1.VolumeReport, error) {
	f, err := s.filter(ctx, req.GetDepartment(), req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return nil, err
	}
	return s.volume(ctx, f, req.GetGranularity())
}

func (s *Server) volume(ctx context.Context, f Filter, g reportsv1.Granularity) (*reportsv1.VolumeReport, error) {
	if g == reportsv1.Granularity_GRANULARITY_UNSPECIFIED {
		g = reportsv1.Granularity_GRANULARITY_DAY
	}
	if _, ok := reportsv1.Granularity_name[int32(g)]; !ok {
		return nil, status.Error(codes.InvalidArgument, "unknown granularity")
	}
	buckets, err := s.Reporter.Volume(ctx, f, g == reportsv1.Granularity_GRANULARITY_DAY)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &reportsv1.VolumeReport{StartTime: timestamppb.New(f.From), EndTime: timestamppb.New(f.To), Granularity: g, Departments: f.Departments}
	for _, b := range buckets {
		out.Buckets = append(out.Buckets, &reportsv1.VolumeBucket{StartTime: timestamppb.New(b.Start), Department: b.Department,
			Channel: b.Channel, Created: int32(b.Created), FirstResponseSla: compliance(b.FirstResponse), ResolutionSla: compliance(b.Resolution)})
	}
	return out, nil
}

func compliance(c Compliance) *reportsv1.Compliance {
	out := &reportsv1.Compliance{Met: int32(c.Met), Total: int32(c.Total)}
	if c.Total > 0 {
		r := c.Rate()
		out.Rate = &r
	}
	return out
}

func durations(d Durations) *reportsv1.DurationStats {
	return &reportsv1.DurationStats{Count: int32(d.Count), MedianSeconds: int64(d.Median.Seconds()), P90Seconds: int64(d.P90.Seconds())}
}

func performance(s Summary) *reportsv1.DepartmentPerformance {
	out := &reportsv1.DepartmentPerformance{Department: s.Department, Created: int32(s.Created),
		FirstResponse: durations(s.FirstResponse), Resolution: durations(s.Resolution),
		FirstResponseSla: compliance(s.FirstResponseSLA), ResolutionSla: compliance(s.ResolutionSLA),
		Resolved: int32(s.Resolved), Reopened: int32(s.Reopened)}
	if s.Resolved > 0 {
		r := s.ReopenRate()
		out.ReopenRate = &r
	}
	return out
}

// GetPerformanceReport implements reportsv1.ReportServiceServer.
func (s *Server) GetPerformanceReport(ctx context.Context, req *reportsv1.GetPerformanceReportRequest) (*reportsv1.PerformanceReport, error) {
	f, err := s.filter(ctx, req.GetDepartment(), req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return nil, err
	}
	return s.performance(ctx, f)
}

func (s *Server) performance(ctx context.Context, f Filter) (*reportsv1.PerformanceReport, error) {
	sums, err := s.Reporter.Summaries(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &reportsv1.PerformanceReport{StartTime: timestamppb.New(f.From), EndTime: timestamppb.New(f.To)}
	for _, sm := range sums {
		if sm.Department == "" {
			out.Total = performance(sm)
			continue
		}
		out.Departments = append(out.Departments, performance(sm))
	}
	return out, nil
}

// GetBacklogReport implements reportsv1.ReportServiceServer.
func (s *Server) GetBacklogReport(ctx context.Context, req *reportsv1.GetBacklogReportRequest) (*reportsv1.BacklogReport, error) {
	p, _ := auth.PrincipalFrom(ctx)
	depts, err := Scope(p, req.GetDepartment())
	if err != nil {
		return nil, toStatus(err)
	}
	return s.backlog(ctx, depts)
}

func (s *Server) backlog(ctx context.Context, depts []string) (*reportsv1.BacklogReport, error) {
	rows, now, err := s.Reporter.Backlog(ctx, depts)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &reportsv1.BacklogReport{AsOf: timestamppb.New(now), AgeBuckets: AgeLabels}
	for _, b := range rows {
		d := &reportsv1.DepartmentBacklog{Department: b.Department, Total: int32(b.Total())}
		for _, n := range b.Ages {
			d.Counts = append(d.Counts, int32(n))
		}
		out.Departments = append(out.Departments, d)
	}
	return out, nil
}

// GetOperatorReport implements reportsv1.ReportServiceServer.
func (s *Server) GetOperatorReport(ctx context.Context, req *reportsv1.GetOperatorReportRequest) (*reportsv1.OperatorReport, error) {
	f, err := s.filter(ctx, req.GetDepartment(), req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return nil, err
	}
	return s.operators(ctx, f)
}

func (s *Server) operators(ctx context.Context, f Filter) (*reportsv1.OperatorReport, error) {
	ops, err := s.Reporter.Operators(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &reportsv1.OperatorReport{StartTime: timestamppb.New(f.From), EndTime: timestamppb.New(f.To)}
	for _, o := range ops {
		out.Operators = append(out.Operators, &reportsv1.OperatorLoad{Operator: o.Operator, Department: o.Department,
			Handled: int32(o.Handled), Open: int32(o.Open)})
	}
	return out, nil
}

// ExportReport implements reportsv1.ReportServiceServer: the report as CSV.
func (s *Server) ExportReport(ctx context.Context, req *reportsv1.ExportReportRequest) (*httpbody.HttpBody, error) {
	var (
		data []byte
		err  error
	)
	switch req.GetReport() {
	case "volume", "performance", "operators":
		f, ferr := s.filter(ctx, req.GetDepartment(), req.GetStartTime(), req.GetEndTime())
		if ferr != nil {
			return nil, ferr
		}
		switch req.GetReport() {
		case "volume":
			var v *reportsv1.VolumeReport
			if v, err = s.volume(ctx, f, req.GetGranularity()); err == nil {
				data, err = VolumeCSV(v)
			}
		case "performance":
			var p *reportsv1.PerformanceReport
			if p, err = s.performance(ctx, f); err == nil {
				data, err = PerformanceCSV(p)
			}
		default:
			var o *reportsv1.OperatorReport
			if o, err = s.operators(ctx, f); err == nil {
				data, err = OperatorsCSV(o)
			}
		}
	case "backlog":
		p, _ := auth.PrincipalFrom(ctx)
		depts, serr := Scope(p, req.GetDepartment())
		if serr != nil {
			return nil, toStatus(serr)
		}
		var b *reportsv1.BacklogReport
		if b, err = s.backlog(ctx, depts); err == nil {
			data, err = BacklogCSV(b)
		}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown report %q (want volume, performance, backlog or operators)", req.GetReport())
	}
	if err != nil {
		return nil, err
	}
	return &httpbody.HttpBody{ContentType: "text/csv; charset=utf-8", Data: data}, nil
}
