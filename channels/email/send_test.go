package email

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/channels/email/mailparse"
)

func reply() *outboundv1.OutboundMessage {
	return &outboundv1.OutboundMessage{
		Id: "0190f3a2-0000-7000-8000-000000000001", CaseId: "c1", CaseReference: "2026-000123", CaseSubject: "Microdati del censimento",
		ChannelKind: "email", ChannelId: "contatti", To: &outboundv1.Recipient{Name: "Maria Rossi", Email: "maria@example.it"},
		BodyText:  "Gentile Maria,\nin allegato i dati.\n\nCordiali saluti",
		InReplyTo: []string{"root@mail.example.it", "sha256:abcdef", "abc123@mail.example.it"},
	}
}

// TestTextToHTML: the HTML alternative escapes everything and keeps
// paragraphs and line breaks.
func TestTextToHTML(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"Gentile Maria,\n\nin allegato i dati.\nCordiali saluti", "<p>Gentile Maria,</p>\n<p>in allegato i dati.<br>\nCordiali saluti</p>\n"},
		{"<script>alert(1)</script> & \"x\"", "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;</p>\n"},
		{"\r\nuno\r\n\r\n\r\n\r\ndue\r\n", "<p>uno</p>\n<p>due</p>\n"},
	} {
		got := textToHTML(tt.text)
		if !strings.Contains(got, "<body>\n"+tt.want+"</body>") {
			t.Errorf("textToHTML(%q) = %q, want body %q", tt.text, got, tt.want)
		}
	}
}

// TestReplierSends: a reply goes through STARTTLS and AUTH PLAIN from the
// case's mailbox; parsed back, it has our Message-ID, the threading headers
// (no hash-only ids), the tagged subject, the body and the attachment; an
// acknowledgement is an RFC 3834 auto-reply; 4xx answers are temporary,
// 5xx permanent, an unconfigured mailbox permanent.
func TestReplierSends(t *testing.T) {
	sink := emailtest.Start(t)
	cfg := testConfig()
	cfg.Mailboxes[0].SMTP = &Submission{Host: sink.Host, Port: sink.Port, Username: sink.User, PasswordFile: sink.PasswordFile, CAFile: sink.CAFile}
	store, blobs := testStore(t)
	pdf, err := blobs.Put(context.Background(), strings.NewReader("%PDF-1.4\n%dati\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplier(cfg, store)
	m := reply()
	m.Attachments = []*outboundv1.OutboundAttachment{{Sha256: pdf.SHA256, FileName: "tavola.pdf", ContentType: pdf.ContentType, Size: pdf.Size}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Send(ctx, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := sink.Messages()
	if len(got) != 1 || got[0].From != "contatti@example.gov.it" || len(got[0].To) != 1 || got[0].To[0] != "maria@example.it" {
		t.Fatalf("sink got %+v", got)
	}
	p, err := mailparse.Parse(ctx, bytes.NewReader(got[0].Data), mailparse.Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.MessageID != m.Id+"@example.gov.it" || r.ExternalID(m) != p.MessageID {
		t.Errorf("Message-ID %q", p.MessageID)
	}
	if strings.Join(p.InReplyTo, ",") != "abc123@mail.example.it" || strings.Join(p.References, ",") != "root@mail.example.it,abc123@mail.example.it" {
		t.Errorf("In-Reply-To %v References %v", p.InReplyTo, p.References)
	}
	if p.Subject != "Re: [2026-000123] Microdati del censimento" || p.From.Address != "contatti@example.gov.it" || p.From.Name != "Contact centre" ||
		len(p.To) != 1 || p.To[0].Address != "maria@example.it" {
		t.Errorf("subject %q from %+v to %+v", p.Subject, p.From, p.To)
	}
	if !strings.Contains(p.FullText, "in allegato i dati") || len(p.Attachments) != 1 || p.Attachments[0].FileName != "tavola.pdf" || p.Attachments[0].SHA256 != pdf.SHA256 {
		t.Errorf("body %q attachments %+v", p.FullText, p.Attachments)
	}
	if p.Auto.Automatic() {
		t.Errorf("an operator's reply reads as automatic: %+v", p.Auto)
	}
	// The text, and the same text as an HTML alternative.
	if !strings.Contains(string(got[0].Data), "multipart/alternative") || !strings.Contains(p.SanitizedHTML, "<p>") ||
		!strings.Contains(p.SanitizedHTML, "in allegato i dati") {
		t.Errorf("no HTML alternative with the text: %q", p.SanitizedHTML)
	}

	ack := reply()
	ack.Kind = "acknowledgement"
	if err := r.Send(ctx, ack); err != nil {
		t.Fatal(err)
	}
	p, _ = mailparse.Parse(ctx, bytes.NewReader(sink.Messages()[1].Data), mailparse.Limits{}, nil)
	if p.Auto.Kind != mailparse.AutoReply {
		t.Errorf("acknowledgement: auto %+v, want an auto-reply", p.Auto)
	}

	sink.FailNext(emailtest.Temporary, emailtest.Permanent)
	if err := r.Send(ctx, reply()); err == nil || channels.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Errorf("451: %v", err)
	}
	if err := r.Send(ctx, reply()); !channels.IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("550: %v", err)
	}
	other := reply()
	other.ChannelId = "dati"
	if err := r.Send(ctx, other); !channels.IsPermanent(err) || !strings.Contains(err.Error(), "no SMTP submission") {
		t.Errorf("mailbox without submission: %v", err)
	}
	// A wrong password is for an administrator to fix: temporary.
	cfg.Mailboxes[0].SMTP.PasswordFile = store0(t)
	if err := NewReplier(cfg, store).Send(ctx, reply()); err == nil || channels.IsPermanent(err) {
		t.Errorf("wrong password: %v", err)
	}
}

func store0(t *testing.T) string {
	t.Helper()
	f := t.TempDir() + "/wrong"
	if err := writeFile(f, "not-the-password"); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestAcknowledgementText: the built-in texts by language, a department's
// template, a mailbox that does not acknowledge.
func TestAcknowledgementText(t *testing.T) {
	cfg := testConfig()
	cfg.Acknowledgement.Templates = map[string]map[string]string{"statistics": {"en": "Statistics got {{.Reference}}."}}
	d := AckData{Reference: "2026-000123", Subject: "Microdati", Name: "Maria"}
	if s, ok := cfg.RenderAck("contatti", "it", "", d); !ok || !strings.Contains(s, "Gentile Maria") || !strings.Contains(s, "[2026-000123]") {
		t.Errorf("Italian: %q %v", s, ok)
	}
	if s, ok := cfg.RenderAck("contatti", "it", "en", d); !ok || !strings.Contains(s, "Dear Maria") {
		t.Errorf("English: %q %v", s, ok)
	}
	if s, ok := cfg.RenderAck("dati", "statistics", "en", d); !ok || s != "Statistics got 2026-000123." {
		t.Errorf("department template: %q %v", s, ok)
	}
	if _, ok := cfg.RenderAck("stampa", "communication", "it", d); ok {
		t.Error("a mailbox with acknowledgement off acknowledged")
	}
	if guessLanguage("Hello, I would like the data for my thesis, thank you") != "en" || guessLanguage("Buongiorno, vorrei i dati per la tesi, grazie") != "" {
		t.Error("guessLanguage")
	}
}
