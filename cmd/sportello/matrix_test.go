package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	contactsv1 "github.com/sportello/sportello/api/sportello/contacts/v1"
	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/storage/storetest"
)

// opStatToken is an operator of the statistics department (the demo
// operator op-statistics).
const opStatToken = "test-operator-statistics-0123456789"

// The callers of the authorisation matrix, in the order of its rows'
// expectations.
var matrixCallers = []string{"anonymous", "citizen", "other citizen", "operator of another department", "operator", "supervisor", "admin"}

// matrixCase is what one row works on: a case of the citizen in the
// statistics department, a second one (merge and link source), the
// citizen's contact and an attachment of an internal note.
type matrixCase struct {
	id, other, contact, noteFile string
	// relink links the two cases again (as admin), so each caller of
	// UnlinkCases finds a link to remove.
	relink func()
}

// matrixRow is one object-addressing RPC: want has one letter per caller
// (A allowed, - refused); grpc and rest make the call.
type matrixRow struct {
	method string
	want   string
	grpc   func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, citizen bool) error
	rest   func(c matrixCase, citizen bool) (method, path, body string)
}

func matrixRows() []matrixRow {
	cs := func(conn *grpc.ClientConn) casesv1.CaseServiceClient { return casesv1.NewCaseServiceClient(conn) }
	msg := func(citizen bool) casesv1.Direction {
		if citizen {
			return casesv1.Direction_DIRECTION_INBOUND
		}
		return casesv1.Direction_DIRECTION_INTERNAL_NOTE
	}
	return []matrixRow{
		{"CaseService/GetCase", "-A--AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).GetCase(ctx, &casesv1.GetCaseRequest{Id: c.id})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) { return "GET", "/v1/cases/" + c.id, "" }},
		{"CaseService/ListMessages", "-A--AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).ListMessages(ctx, &casesv1.ListMessagesRequest{CaseId: c.id})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "GET", "/v1/cases/" + c.id + "/messages", ""
			}},
		{"CaseService/ListCaseEvents", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).ListCaseEvents(ctx, &casesv1.ListCaseEventsRequest{CaseId: c.id})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) { return "GET", "/v1/cases/" + c.id + "/events", "" }},
		{"CaseService/AddMessage", "-A--AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, citizen bool) error {
				_, err := cs(conn).AddMessage(ctx, &casesv1.AddMessageRequest{CaseId: c.id, Direction: msg(citizen), BodyText: "Messaggio di prova."})
				return err
			},
			func(c matrixCase, citizen bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + "/messages", fmt.Sprintf(`{"direction":%q,"bodyText":"Messaggio di prova."}`, msg(citizen))
			}},
		{"CaseService/UpdateCase", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).UpdateCase(ctx, &casesv1.UpdateCaseRequest{Case: &casesv1.Case{Id: c.id, Tags: []string{"matrice"}},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tags"}}})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "PATCH", "/v1/cases/" + c.id, `{"tags":["matrice"]}`
			}},
		{"CaseService/ChangeStatus", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).ChangeStatus(ctx, &casesv1.ChangeStatusRequest{Id: c.id, Status: casesv1.Status_STATUS_ON_HOLD, Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + ":changeStatus", `{"status":"STATUS_ON_HOLD","reason":"prova"}`
			}},
		{"CaseService/AssignCase", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).AssignCase(ctx, &casesv1.AssignCaseRequest{Id: c.id, Assignee: "op-statistics", Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + ":assign", `{"assignee":"op-statistics","reason":"prova"}`
			}},
		{"CaseService/TransferCase", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).TransferCase(ctx, &casesv1.TransferCaseRequest{Id: c.id, Department: "triage", Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + ":transfer", `{"department":"triage","reason":"prova"}`
			}},
		{"CaseService/MergeCases", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).MergeCases(ctx, &casesv1.MergeCasesRequest{TargetId: c.id, SourceId: c.other, Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + ":merge", `{"sourceId":"` + c.other + `","reason":"prova"}`
			}},
		{"CaseService/LinkCases", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).LinkCases(ctx, &casesv1.LinkCasesRequest{Id: c.id, LinkedCaseId: c.other, Kind: "related", Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + ":link", `{"linkedCaseId":"` + c.other + `","kind":"related","reason":"prova"}`
			}},
		{"CaseService/UnlinkCases", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				c.relink()
				_, err := cs(conn).UnlinkCases(ctx, &casesv1.UnlinkCasesRequest{Id: c.id, LinkedCaseId: c.other, Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				c.relink()
				return "POST", "/v1/cases/" + c.id + ":unlink", `{"linkedCaseId":"` + c.other + `","reason":"prova"}`
			}},
		{"CaseService/UploadAttachment", "-A--AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).UploadAttachment(ctx, &casesv1.UploadAttachmentRequest{CaseId: c.id, FileName: "nota.txt", Content: []byte("testo di prova\n")})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases/" + c.id + "/attachments?file_name=nota.txt", "testo di prova\n"
			}},
		{"CaseService/GetAttachment (of an internal note)", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).GetAttachment(ctx, &casesv1.GetAttachmentRequest{Id: c.noteFile})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "GET", "/v1/attachments/" + c.noteFile + "/content", ""
			}},
		{"CaseService/BatchAssignCases", "-----AA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := cs(conn).BatchAssignCases(ctx, &casesv1.BatchAssignCasesRequest{Ids: []string{c.id}, Assignee: "op-statistics", Reason: "prova"})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "POST", "/v1/cases:batchAssign", `{"ids":["` + c.id + `"],"assignee":"op-statistics","reason":"prova"}`
			}},
		{"ContactService/GetContact", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := contactsv1.NewContactServiceClient(conn).GetContact(ctx, &contactsv1.GetContactRequest{Id: c.contact})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) { return "GET", "/v1/contacts/" + c.contact, "" }},
		{"ContactService/ListContactCases", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, c matrixCase, _ bool) error {
				_, err := contactsv1.NewContactServiceClient(conn).ListContactCases(ctx, &contactsv1.ListContactCasesRequest{ContactId: c.contact})
				return err
			},
			func(c matrixCase, _ bool) (string, string, string) {
				return "GET", "/v1/contacts/" + c.contact + "/cases", ""
			}},
		{"DirectoryService/SetPresence (of op-statistics)", "----AAA",
			func(ctx context.Context, conn *grpc.ClientConn, _ matrixCase, _ bool) error {
				_, err := directoryv1.NewDirectoryServiceClient(conn).SetPresence(ctx, &directoryv1.SetPresenceRequest{OperatorId: "op-statistics", Presence: "online"})
				return err
			},
			func(matrixCase, bool) (string, string, string) {
				return "POST", "/v1/operators/op-statistics:setPresence", `{"presence":"online"}`
			}},
	}
}

// denied reports whether an answer refused the caller: not signed in, not
// allowed, or (for objects the caller may not know of) not found. The
// objects exist, so any other answer, even a business refusal such as an
// illegal status change, got past authorisation.
func deniedCode(c codes.Code) bool {
	return c == codes.Unauthenticated || c == codes.PermissionDenied || c == codes.NotFound
}

func deniedHTTP(s int) bool { return s == 401 || s == 403 || s == 404 }

// TestAuthorizationMatrix calls every object-addressing RPC as each kind
// of caller, over gRPC and over REST, and checks who gets through. The
// citizens are signed in with the development OP's tokens, as
// `sportello dev-token` gives them.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, storetest.Backends()[0])
	cfg.Auth.Tokens = append(cfg.Auth.Tokens, auth.StaticToken{Name: "op-stat", SHA256: auth.HashToken(opStatToken),
		Role: auth.RoleOperator, Departments: []string{"statistics"}, Operator: "op-statistics"})
	s := startServer(t, cfg)
	rows := matrixRows()

	// Per transport and row, a pair of the citizen's cases (a merge or a
	// transfer changes them), written before the citizen first signs in.
	subjects := map[string][2]string{}
	for _, tr := range []string{"grpc", "rest"} {
		for i := range rows {
			k := fmt.Sprintf("%s-%d", tr, i)
			subjects[k] = [2]string{"Matrice " + k, "Matrice " + k + " bis"}
			for _, sub := range subjects[k] {
				s.submit(`{"name":"Mario Rossi","email":"mario.rossi@example.org","category":"microdata","subject":"` + sub + `","message":"Vorrei i microdati."}`)
			}
		}
	}
	s.waitForCases(4 * len(rows))
	bySubject := map[string]*casesv1.Case{}
	for _, c := range s.allCases() {
		bySubject[c.GetSubject()] = c
	}
	tokens := []string{""}
	for _, who := range []string{"citizen-mario", "citizen-giuseppe"} {
		tok, err := devTokenCommand(cfg.DataDir, who)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	tokens = append(tokens, itToken, opStatToken, supToken, adminToken)

	prepare := func(k string) matrixCase {
		c, other := bySubject[subjects[k][0]], bySubject[subjects[k][1]]
		if c == nil || other == nil || c.GetDepartment() != "statistics" {
			t.Fatalf("case of %s: %v %v", k, c, other)
		}
		ctx := withToken(adminToken)
		up, err := s.grpcCases().UploadAttachment(ctx, &casesv1.UploadAttachmentRequest{CaseId: c.GetId(), FileName: "interno.txt", Content: []byte("solo per il personale\n")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.grpcCases().AddMessage(ctx, &casesv1.AddMessageRequest{CaseId: c.GetId(), Direction: casesv1.Direction_DIRECTION_INTERNAL_NOTE,
			BodyText: "Nota interna.", AttachmentIds: []string{up.GetId()}}); err != nil {
			t.Fatal(err)
		}
		relink := func() {
			_, err := s.grpcCases().LinkCases(ctx, &casesv1.LinkCasesRequest{Id: c.GetId(), LinkedCaseId: other.GetId(), Kind: "related", Reason: "prova"})
			if err != nil && status.Code(err) != codes.AlreadyExists && status.Code(err) != codes.FailedPrecondition {
				t.Errorf("relink: %v", err)
			}
		}
		return matrixCase{id: c.GetId(), other: other.GetId(), contact: c.GetContactId(), noteFile: up.GetId(), relink: relink}
	}

	// What a citizen may see of their own case: not internal notes, nor
	// who works it.
	t.Run("citizen view", func(t *testing.T) {
		c := prepare("grpc-0")
		if _, err := s.grpcCases().AssignCase(withToken(adminToken), &casesv1.AssignCaseRequest{Id: c.id, Assignee: "op-statistics", Reason: "prova"}); err != nil {
			t.Fatal(err)
		}
		ctx := withToken(tokens[1])
		msgs, err := s.grpcCases().ListMessages(ctx, &casesv1.ListMessagesRequest{CaseId: c.id})
		if err != nil || len(msgs.GetMessages()) == 0 {
			t.Fatalf("citizen's messages: %v, %v", msgs, err)
		}
		for _, m := range msgs.GetMessages() {
			if m.GetDirection() == casesv1.Direction_DIRECTION_INTERNAL_NOTE || strings.Contains(m.GetBodyText(), "Nota interna") {
				t.Errorf("a citizen sees an internal note: %v", m)
			}
		}
		got, err := s.grpcCases().GetCase(ctx, &casesv1.GetCaseRequest{Id: c.id})
		if err != nil || got.GetAssignee() != "" || got.GetReference() == "" {
			t.Errorf("citizen's view of the case: %v, %v", got, err)
		}
		list, err := s.grpcCases().ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 500})
		if err != nil || len(list.GetCases()) != 4*len(rows) {
			t.Errorf("citizen lists %d cases, want their %d: %v", len(list.GetCases()), 4*len(rows), err)
		}
		if _, err := s.grpcCases().ListCases(ctx, &casesv1.ListCasesRequest{ContactId: "01a20000-0000-7000-8000-000000000000"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("citizen lists another contact's cases: %v", err)
		}
		other, err := s.grpcCases().ListCases(withToken(tokens[2]), &casesv1.ListCasesRequest{})
		if err != nil || len(other.GetCases()) != 0 {
			t.Errorf("another citizen lists %d cases: %v", len(other.GetCases()), err)
		}
	})

	for i, row := range rows {
		for _, tr := range []string{"grpc", "rest"} {
			t.Run(tr+"/"+row.method, func(t *testing.T) {
				c := prepare(fmt.Sprintf("%s-%d", tr, i))
				var got strings.Builder
				detail := make([]string, len(tokens))
				for j, tok := range tokens {
					citizen := j == 1 || j == 2
					allowed := false
					if tr == "grpc" {
						ctx := context.Background()
						if tok != "" {
							ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
						}
						err := row.grpc(ctx, s.conn, c, citizen)
						allowed = !deniedCode(status.Code(err))
						detail[j] = status.Code(err).String()
					} else {
						method, path, body := row.rest(c, citizen)
						h := map[string]string{}
						if tok != "" {
							h["Authorization"] = "Bearer " + tok
						}
						ct := jsonType
						if strings.Contains(path, "/attachments?") {
							ct = "text/plain"
						}
						r := s.do(method, path, ct, []byte(body), h)
						allowed = !deniedHTTP(r.Status)
						detail[j] = fmt.Sprint(r.Status)
					}
					if allowed {
						got.WriteByte('A')
					} else {
						got.WriteByte('-')
					}
				}
				if got.String() != row.want {
					var b strings.Builder
					for j, who := range matrixCallers {
						fmt.Fprintf(&b, "\n  %-32s want %c got %c (%s)", who, row.want[j], got.String()[j], detail[j])
					}
					t.Errorf("%s over %s:%s", row.method, tr, b.String())
				}
			})
		}
	}
}

// TestPermissionTableCoversMatrix keeps the matrix honest: every method
// it names is in the permission table.
func TestPermissionTableCoversMatrix(t *testing.T) {
	t.Parallel()
	for _, row := range matrixRows() {
		name := strings.Fields(row.method)[0]
		found := false
		for m := range auth.Permissions {
			if strings.HasSuffix(m, "."+name) || strings.HasSuffix(m, name) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is not in auth.Permissions", row.method)
		}
	}
}
