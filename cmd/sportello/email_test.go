package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/email"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/channels/email/mailparse"
	"github.com/sportello/sportello/services/directory"
	"github.com/sportello/sportello/services/storage/storetest"
)

// mailTo delivers msg to the server's inbound SMTP listener with Go's
// net/smtp client; nil means 250.
func mailTo(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

const pdfBase64 = "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg=="

func citizenRequest(msgID string) string {
	return fmt.Sprintf(`From: Anna Verdi <anna.verdi@example.it>
To: dati@comune.example.it
Subject: Tavole sulla popolazione residente
Message-ID: <%s>
Date: Mon, 2 Nov 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Buongiorno, vorrei le tavole sulla popolazione residente per comune.
Allego il modulo compilato.

--b1
Content-Type: application/pdf; name="modulo.pdf"
Content-Disposition: attachment; filename="modulo.pdf"
Content-Transfer-Encoding: base64

%s
--b1--
`, msgID, pdfBase64)
}

// mailConfig is the test server's e-mail channel: two mailboxes that send
// through sink and acknowledge new cases; retries after 200 ms, twice.
func mailConfig(t *testing.T, b storetest.Backend, sink *emailtest.Sink) Config {
	cfg := testConfig(t, b)
	sub := &email.Submission{Host: sink.Host, Port: sink.Port, Username: sink.User, PasswordFile: sink.PasswordFile, CAFile: sink.CAFile}
	cfg.Email = email.Config{
		Domain:   "comune.example.it",
		Listener: email.ListenerConfig{Listen: "127.0.0.1:0", MaxSize: 256 << 10},
		Outbound: email.Outbound{Backoff: []string{"200ms", "200ms"}},
		Mailboxes: []email.Mailbox{
			{Name: "contatti", Address: "contatti@comune.example.it", DisplayName: "Contact centre", SMTP: sub},
			{Name: "dati", Address: "dati@comune.example.it", DisplayName: "Dati e statistiche", SMTP: sub},
		},
	}
	// The web form's acknowledgements (on by default) would add a mail per
	// submission to the counts of the tests of other mail; their own test
	// turns them on (TestIntegrationWebFormAcknowledgement).
	off := false
	cfg.Web.Acknowledgement = &off
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// sentTo waits for the sink's n-th accepted message (1-based) and parses it.
func sentMessage(t *testing.T, sink *emailtest.Sink, n int) (*mailparse.Message, emailtest.Message) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages at the SMTP sink", n), func() bool { return len(sink.Messages()) >= n })
	m := sink.Messages()[n-1]
	p, err := mailparse.Parse(context.Background(), bytes.NewReader(m.Data), mailparse.Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

func (s *testServer) message(caseID, id string) *casesv1.Message {
	s.t.Helper()
	for _, m := range s.messages(caseID) {
		if m.Id == id {
			return m
		}
	}
	s.t.Fatalf("message %s not on case %s", id, caseID)
	return nil
}

// reply adds an operator's reply over REST and returns it.
func (s *testServer) reply(caseID, text string) *casesv1.Message {
	s.t.Helper()
	body := fmt.Sprintf(`{"direction":"DIRECTION_OUTBOUND","bodyText":%q}`, text)
	r := s.do("POST", "/v1/cases/"+caseID+"/messages", jsonType, []byte(body), map[string]string{"Authorization": "Bearer " + adminToken})
	if r.Status != http.StatusOK {
		s.t.Fatalf("AddMessage: %d %s", r.Status, r.Body)
	}
	var m casesv1.Message
	if err := protojson.Unmarshal(r.Body, &m); err != nil {
		s.t.Fatal(err)
	}
	return &m
}

func (s *testServer) waitDelivery(caseID, msgID, status string) *casesv1.Message {
	s.t.Helper()
	var m *casesv1.Message
	eventually(s.t, "delivery status "+status, func() bool {
		m = s.message(caseID, msgID)
		return m.DeliveryStatus == status
	})
	return m
}

// TestIntegrationEmail is the e-mail channel end to end, with real peers:
// Go's SMTP client delivering to the inbound listener, a go-smtp
// submission server (STARTTLS, AUTH PLAIN) receiving what Sportello sends.
func TestIntegrationEmail(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		sink := emailtest.Start(t)
		s := startServer(t, mailConfig(t, b, sink))
		ctx := context.Background()
		if _, err := s.app.db.CreateRoutingRule(ctx, directory.Rule{Name: "posta dati comune", Position: 1, Department: "statistics",
			ToAddress: "dati@comune.example.it", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		addr := s.app.MailAddr()

		// A citizen writes to dati@: a case routed by the receiving
		// address, with the attachment and the original downloadable.
		req := citizenRequest("req-1@mail.example.it")
		if err := mailTo(addr, "anna.verdi@example.it", "dati@comune.example.it", req); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		c := s.waitForCases(1)[0]
		if c.Department != "statistics" || c.ChannelKind != "email" || c.ChannelId != "dati" || c.Subject != "Tavole sulla popolazione residente" {
			t.Fatalf("case = %+v", c)
		}
		ms := s.messages(c.Id)
		in := ms[0]
		if in.Direction != casesv1.Direction_DIRECTION_INBOUND || in.ExternalId != "req-1@mail.example.it" || !strings.Contains(in.BodyText, "popolazione residente per comune") {
			t.Fatalf("inbound message = %+v", in)
		}
		if len(in.Attachments) != 2 || in.Attachments[0].ContentType != "message/rfc822" || in.Attachments[1].FileName != "modulo.pdf" {
			t.Fatalf("attachments = %+v", in.Attachments)
		}
		pdf := s.get("/v1/attachments/"+in.Attachments[1].Id+"/content", adminToken)
		if pdf.Status != http.StatusOK || !bytes.HasPrefix(pdf.Body, []byte("%PDF-1.4")) || pdf.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("PDF download: %d %s %q", pdf.Status, pdf.Header.Get("Content-Type"), pdf.Body)
		}
		orig := s.get("/v1/attachments/"+in.Attachments[0].Id+"/content", adminToken)
		if orig.Status != http.StatusOK || !bytes.Contains(orig.Body, []byte("Message-ID: <req-1@mail.example.it>")) ||
			!strings.HasPrefix(orig.Header.Get("Content-Type"), "message/rfc822") {
			t.Fatalf("original download: %d %s", orig.Status, orig.Header.Get("Content-Type"))
		}

		// The acknowledgement went out from dati@, as an auto-reply in
		// the thread, and is recorded as sent.
		ack, raw := sentMessage(t, sink, 1)
		if raw.From != "dati@comune.example.it" || raw.To[0] != "anna.verdi@example.it" || ack.Auto.Kind != mailparse.AutoReply ||
			!strings.Contains(ack.Subject, "["+c.Reference+"]") || strings.Join(ack.InReplyTo, ",") != "req-1@mail.example.it" ||
			!strings.Contains(ack.FullText, c.Reference) {
			t.Fatalf("acknowledgement = from %s subject %q in-reply-to %v auto %+v", raw.From, ack.Subject, ack.InReplyTo, ack.Auto)
		}
		var ackMsg *casesv1.Message
		for _, m := range s.messages(c.Id) {
			if m.Kind == "acknowledgement" {
				ackMsg = m
			}
		}
		if ackMsg == nil {
			t.Fatal("no acknowledgement on the case")
		}
		s.waitDelivery(c.Id, ackMsg.Id, "sent")

		// The same message again: no second case. Policy refusals.
		if err := mailTo(addr, "anna.verdi@example.it", "dati@comune.example.it", req); err != nil {
			t.Fatalf("redeliver: %v", err)
		}
		if err := mailTo(addr, "x@example.it", "nobody@comune.example.it", req); err == nil || !strings.HasPrefix(err.Error(), "550") {
			t.Errorf("unknown recipient: %v", err)
		}
		big := req + strings.Repeat(strings.Repeat("z", 900)+"\n", 300)
		if err := mailTo(addr, "x@example.it", "dati@comune.example.it", big); err == nil || !strings.HasPrefix(err.Error(), "552") ||
			!strings.Contains(err.Error(), "the limit is 256 KiB") {
			t.Errorf("oversized: %v", err)
		}

		// Automatic mail: an out-of-office note and a list message open
		// cases, with no acknowledgement.
		for _, f := range []string{"ooo-outlook-it.eml", "mailing-list.eml"} {
			raw, err := os.ReadFile("../../channels/email/mailparse/testdata/" + f)
			if err != nil {
				t.Fatal(err)
			}
			if err := mailTo(addr, "auto@example.org", "contatti@comune.example.it", strings.ReplaceAll(string(raw), "\r\n", "\n")); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		all := s.waitForCases(3) // the redelivery made none
		for _, other := range all {
			if other.Id == c.Id {
				continue
			}
			for _, m := range s.messages(other.Id) {
				if m.Direction == casesv1.Direction_DIRECTION_OUTBOUND {
					t.Errorf("case %s (%s) got an automatic reply: %+v", other.Reference, other.Subject, m)
				}
			}
		}

		// An operator replies: it goes out threaded, tagged, from dati@.
		r1 := s.reply(c.Id, "Gentile Anna,\nle tavole sono in allegato al portale.")
		out, raw := sentMessage(t, sink, 2)
		sent := s.waitDelivery(c.Id, r1.Id, "sent")
		if raw.From != "dati@comune.example.it" || out.From.Address != "dati@comune.example.it" || out.To[0].Address != "anna.verdi@example.it" ||
			out.Subject != "Re: ["+c.Reference+"] Tavole sulla popolazione residente" || out.MessageID != r1.Id+"@comune.example.it" ||
			strings.Join(out.InReplyTo, ",") != "req-1@mail.example.it" || !slices.Contains(out.References, "req-1@mail.example.it") ||
			!strings.Contains(out.FullText, "le tavole sono in allegato") || out.Auto.Automatic() {
			t.Fatalf("reply = from %s to %v subject %q id %q in-reply-to %v refs %v text %q", out.From.Address, out.To, out.Subject,
				out.MessageID, out.InReplyTo, out.References, out.FullText)
		}
		if sent.ExternalId != out.MessageID {
			t.Errorf("stored external id %q, sent Message-ID %q", sent.ExternalId, out.MessageID)
		}

		// Anna answers our reply with a new subject: In-Reply-To threads
		// it into the case.
		answer := fmt.Sprintf("From: Anna Verdi <anna.verdi@example.it>\nTo: dati@comune.example.it\nSubject: grazie\nMessage-ID: <req-2@mail.example.it>\nIn-Reply-To: <%s>\nReferences: <req-1@mail.example.it> <%s>\n\nGrazie mille, ho trovato le tavole.\n", out.MessageID, out.MessageID)
		if err := mailTo(addr, "anna.verdi@example.it", "dati@comune.example.it", answer); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the answer on the case", func() bool {
			for _, m := range s.messages(c.Id) {
				if m.ExternalId == "req-2@mail.example.it" {
					return true
				}
			}
			return false
		})
		if n := len(s.allCases()); n != 3 {
			t.Fatalf("%d cases after the answer, want 3", n)
		}

		// A 4xx from the submission server: retried, then sent.
		attempts := sink.Attempts()
		sink.FailNext(emailtest.Temporary)
		r2 := s.reply(c.Id, "Un'ultima informazione.")
		s.waitDelivery(c.Id, r2.Id, "sent")
		if got := sink.Attempts() - attempts; got != 2 {
			t.Errorf("%d attempts for a reply deferred once, want 2", got)
		}
		// A 5xx: failed, with the server's answer.
		sink.FailNext(emailtest.Permanent)
		r3 := s.reply(c.Id, "Questo messaggio sarà rifiutato.")
		failed := s.waitDelivery(c.Id, r3.Id, "failed")
		if !strings.Contains(failed.DeliveryError, "550") || !strings.Contains(failed.DeliveryError, "refused by policy") {
			t.Errorf("delivery error = %q", failed.DeliveryError)
		}
		// A bounce of our first reply marks it failed and lands on the case.
		dsn := fmt.Sprintf(`From: Mail Delivery System <MAILER-DAEMON@mx.example.it>
To: dati@comune.example.it
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.example.it>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.it

Final-Recipient: rfc822; anna.verdi@example.it
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

--r
Content-Type: text/rfc822-headers

From: dati@comune.example.it
To: anna.verdi@example.it
Message-ID: <%s>
Subject: Re: [%s] Tavole sulla popolazione residente

--r--
`, out.MessageID, c.Reference)
		if err := mailTo(addr, "", "dati@comune.example.it", dsn); err != nil {
			t.Fatal(err)
		}
		bounced := s.waitDelivery(c.Id, r1.Id, "failed")
		if !strings.Contains(bounced.DeliveryError, "mailbox full") {
			t.Errorf("bounced reply error = %q", bounced.DeliveryError)
		}
		ms = s.messages(c.Id)
		last := ms[len(ms)-1]
		if last.Direction != casesv1.Direction_DIRECTION_SYSTEM || !strings.Contains(last.BodyText, "Delivery failed") {
			t.Errorf("last message = %+v", last)
		}
		if n := len(s.allCases()); n != 3 {
			t.Errorf("%d cases after the bounce, want 3", n)
		}
		contains(t, "history", s.history(c.Id), "delivery_failed:")
	})
}
