package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/services/storage/storetest"
)

func attachmentFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "attachments", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadRaw posts content as the request body.
func (s *testServer) uploadRaw(caseID, token, fileName, contentType string, content []byte) response {
	s.t.Helper()
	return s.do("POST", "/v1/cases/"+caseID+"/attachments?file_name="+url.QueryEscape(fileName), contentType, content, bearer(token))
}

// uploadForm posts content as a browser does: multipart/form-data with a
// text field first and the file after it.
func (s *testServer) uploadForm(caseID, token, fileName string, content []byte) response {
	s.t.Helper()
	return s.uploadFormWith(caseID, token, "dal modulo web", fileName, content)
}

func (s *testServer) uploadFormWith(caseID, token, field, fileName string, content []byte) response {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("note", field)
	fw, _ := mw.CreateFormFile("file", fileName)
	_, _ = fw.Write(content)
	_ = mw.Close()
	return s.do("POST", "/v1/cases/"+caseID+"/attachments", mw.FormDataContentType(), body.Bytes(), bearer(token))
}

func attachmentOf(t *testing.T, r response) *casesv1.Attachment {
	t.Helper()
	var a casesv1.Attachment
	if r.Status != http.StatusCreated || jsonUnmarshalAny(r.Body, &a) != nil {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Location") != "/v1/attachments/"+a.Id {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	return &a
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestIntegrationAttachments: files uploaded over REST (raw and multipart)
// and gRPC, typed by their content, attached to a reply, listed with the
// thread and downloaded with headers that keep a browser safe; other
// departments' operators learn nothing.
func TestIntegrationAttachments(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		cfg := testConfig(t, b)
		const limit = 200 << 10
		cfg.Attachments.MaxSize = limit
		s := startServer(t, cfg)
		s.submit(itSubmit)
		s.submit(defaultSubmit) // statistics: not op-it's department
		var mine, theirs *casesv1.Case
		for _, c := range s.waitForCases(2) {
			if c.Department == "it" {
				mine = c
			} else {
				theirs = c
			}
		}
		pdf, png, csv := attachmentFixture(t, "modulo.pdf"), attachmentFixture(t, "pixel.png"), attachmentFixture(t, "dati.csv")

		// REST, raw body: the declared type and the path in the name do not count.
		a1 := attachmentOf(t, s.uploadRaw(mine.Id, itToken, "../../etc/modulo.pdf", "text/html", pdf))
		if a1.ContentType != "application/pdf" || a1.FileName != "modulo.pdf" || a1.Size != int64(len(pdf)) ||
			a1.Sha256 != hexSHA256(pdf) || a1.CaseId != mine.Id || a1.MessageId != "" || a1.UploadedBy != "token:op-it" {
			t.Fatalf("raw upload = %v", a1)
		}
		// REST, multipart: a PNG named as text is stored as a PNG.
		a2 := attachmentOf(t, s.uploadForm(mine.Id, itToken, "città.txt", png))
		if a2.ContentType != "image/png" || a2.FileName != "città.txt" {
			t.Fatalf("multipart upload = %v", a2)
		}
		// gRPC.
		a3, err := s.grpcCases().UploadAttachment(withToken(itToken), &casesv1.UploadAttachmentRequest{CaseId: mine.Id, FileName: `C:\dati\dati.csv`, Content: csv})
		if err != nil || a3.ContentType != "text/csv" || a3.FileName != "dati.csv" {
			t.Fatalf("gRPC upload = %v, %v", a3, err)
		}
		// The same bytes again: another attachment, the same blob.
		again, err := s.grpcCases().UploadAttachment(withToken(adminToken), &casesv1.UploadAttachmentRequest{CaseId: mine.Id, FileName: "copia.pdf", Content: pdf})
		if err != nil || again.Id == a1.Id || again.Sha256 != a1.Sha256 {
			t.Fatalf("second upload of the same bytes = %v, %v", again, err)
		}
		theirFile, err := s.grpcCases().UploadAttachment(withToken(adminToken), &casesv1.UploadAttachmentRequest{CaseId: theirs.Id, FileName: "x.pdf", Content: []byte("%PDF-1.4 theirs")})
		if err != nil {
			t.Fatal(err)
		}

		// Refusals over REST, with the status a browser can act on.
		for _, tt := range []struct {
			name string
			r    response
			want int
			says string
		}{
			{"HTML named as a PDF", s.uploadRaw(mine.Id, itToken, "report.pdf", "application/pdf", attachmentFixture(t, "report.pdf")), 415, "text/html"},
			{"over the limit", s.uploadRaw(mine.Id, itToken, "big.txt", "", bytes.Repeat([]byte("a"), limit+1)), 413, "200 KiB"},
			{"over the limit, multipart", s.uploadForm(mine.Id, itToken, "big.txt", bytes.Repeat([]byte("a"), limit+1)), 413, "200 KiB"},
			{"a small file after a huge field", s.uploadFormWith(mine.Id, itToken, strings.Repeat("x", limit+70<<10), "a.txt", []byte("a")), 413, "200 KiB"},
			{"empty", s.uploadRaw(mine.Id, itToken, "vuoto.txt", "", nil), 400, "empty"},
			{"no file part", s.do("POST", "/v1/cases/"+mine.Id+"/attachments", "multipart/form-data; boundary=x", []byte("--x--\r\n"), bearer(itToken)), 400, "no file part"},
			{"no token", s.uploadRaw(mine.Id, "", "a.pdf", "", pdf), 401, "bearer token"},
			{"citizen", s.uploadRaw(mine.Id, citizenToken, "a.pdf", "", pdf), 403, "may not call"},
			{"another department's case", s.uploadRaw(theirs.Id, itToken, "a.pdf", "", pdf), 404, "not found"},
			{"no such case", s.uploadRaw("01900000-0000-7000-8000-000000000000", itToken, "a.pdf", "", pdf), 404, "not found"},
		} {
			if tt.r.Status != tt.want || !strings.Contains(string(tt.r.Body), tt.says) {
				t.Errorf("%s: %d %s; want %d saying %q", tt.name, tt.r.Status, tt.r.Body, tt.want, tt.says)
			}
		}
		// Over gRPC a refusal carries the reason.
		_, err = s.grpcCases().UploadAttachment(withToken(itToken), &casesv1.UploadAttachmentRequest{CaseId: mine.Id, FileName: "big.txt", Content: bytes.Repeat([]byte("a"), limit+1)})
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || len(st.Details()) != 1 || st.Details()[0].(*errdetails.ErrorInfo).GetReason() != "ATTACHMENT_TOO_LARGE" {
			t.Fatalf("gRPC upload over the limit = %v", err)
		}
		// Nothing refused was left on disk: one blob per distinct content.
		var blobs, temps int
		root := filepath.Join(cfg.DataDir, "attachments")
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if rel, _ := filepath.Rel(root, p); strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
					temps++
				} else {
					blobs++
				}
			}
			return err
		})
		if blobs != 4 || temps != 0 {
			t.Fatalf("%d blobs and %d temporary files on disk, want 4 and 0", blobs, temps)
		}

		// A reply carries the uploads; each goes on one message only.
		add := func(ids ...string) response {
			body, _ := json.Marshal(map[string]any{"direction": "DIRECTION_OUTBOUND", "bodyText": "In allegato i documenti.", "attachmentIds": ids})
			return s.do("POST", "/v1/cases/"+mine.Id+"/messages", jsonType, body, bearer(itToken))
		}
		var reply casesv1.Message
		if r := add(a1.Id, a3.Id); r.Status != 200 || jsonUnmarshalAny(r.Body, &reply) != nil || len(reply.Attachments) != 2 ||
			reply.Attachments[0].Id != a1.Id || reply.Attachments[1].MessageId != reply.Id {
			t.Fatalf("reply with attachments: %d %s", r.Status, r.Body)
		}
		for _, ids := range [][]string{{a1.Id}, {theirFile.Id}, {"nope"}} {
			if r := add(ids...); r.Status != 400 {
				t.Errorf("reply with %v: %d %s, want 400", ids, r.Status, r.Body)
			}
		}
		note, err := s.grpcCases().AddMessage(withToken(itToken), &casesv1.AddMessageRequest{CaseId: mine.Id, Direction: casesv1.Direction_DIRECTION_INTERNAL_NOTE, AttachmentIds: []string{a2.Id}})
		if err != nil || len(note.Attachments) != 1 || note.BodyText != "" {
			t.Fatalf("note with a file only = %v, %v", note, err)
		}

		// The thread, over REST and gRPC, shows them.
		var thread casesv1.ListMessagesResponse
		if r := s.get("/v1/cases/"+mine.Id+"/messages", itToken); r.Status != 200 || jsonUnmarshalAny(r.Body, &thread) != nil {
			t.Fatalf("thread: %d %s", r.Status, r.Body)
		}
		grpcThread, err := s.grpcCases().ListMessages(withToken(supToken), &casesv1.ListMessagesRequest{CaseId: mine.Id})
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range []*casesv1.ListMessagesResponse{&thread, grpcThread} {
			if len(th.Messages) != 3 || len(th.Messages[0].Attachments) != 0 || len(th.Messages[1].Attachments) != 2 ||
				th.Messages[1].Attachments[1].FileName != "dati.csv" || th.Messages[2].Attachments[0].Id != a2.Id {
				t.Fatalf("thread = %v", th)
			}
		}

		// Download: the stored bytes, the sniffed type, safe headers.
		r := s.get("/v1/attachments/"+a2.Id+"/content", itToken)
		h := r.Header
		if r.Status != 200 || !bytes.Equal(r.Body, png) || h.Get("Content-Type") != "image/png" ||
			h.Get("Content-Disposition") != `attachment; filename="citt_.txt"; filename*=UTF-8''citt%C3%A0.txt` ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "sandbox" {
			t.Fatalf("download: %d %v", r.Status, h)
		}
		if r := s.do("GET", "/v1/attachments/"+a1.Id+"/content", "", nil, map[string]string{"Authorization": "Bearer " + itToken, "Range": "bytes=0-4"}); r.Status != 206 || string(r.Body) != "%PDF-" {
			t.Fatalf("range: %d %q", r.Status, r.Body)
		}
		if r := s.do("GET", "/v1/attachments/"+a1.Id+"/content", "", nil, map[string]string{"Authorization": "Bearer " + itToken, "If-None-Match": `"` + a1.Sha256 + `"`}); r.Status != 304 {
			t.Fatalf("If-None-Match: %d", r.Status)
		}
		var meta casesv1.Attachment
		if r := s.get("/v1/attachments/"+a3.Id, itToken); r.Status != 200 || jsonUnmarshalAny(r.Body, &meta) != nil || meta.MessageId != reply.Id {
			t.Fatalf("GetAttachment over REST: %d %s", r.Status, r.Body)
		}

		// Another department's operator gets 404 for both, as for a file
		// that does not exist; the admin gets the file.
		for _, path := range []string{"/v1/attachments/" + theirFile.Id + "/content", "/v1/attachments/" + theirFile.Id,
			"/v1/attachments/01900000-0000-7000-8000-000000000000/content", "/v1/attachments/not-an-id/content"} {
			if r := s.get(path, itToken); r.Status != 404 {
				t.Errorf("GET %s as op-it: %d %s, want 404", path, r.Status, r.Body)
			}
		}
		if _, err := s.grpcCases().GetAttachment(withToken(itToken), &casesv1.GetAttachmentRequest{Id: theirFile.Id}); status.Code(err) != codes.NotFound {
			t.Fatalf("GetAttachment of another department = %v", err)
		}
		if r := s.get("/v1/attachments/"+theirFile.Id+"/content", adminToken); r.Status != 200 || string(r.Body) != "%PDF-1.4 theirs" {
			t.Fatalf("admin download: %d %s", r.Status, r.Body)
		}
		if r := s.get("/v1/attachments/"+a1.Id+"/content", ""); r.Status != 401 {
			t.Fatalf("anonymous download: %d", r.Status)
		}
	})
}
