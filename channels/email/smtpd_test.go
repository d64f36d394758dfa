package email

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/sportello/sportello/channels/threadkey"
)

func startListener(t *testing.T, cfg Config) (*Listener, *sink, Store) {
	t.Helper()
	store, _ := testStore(t)
	s := &sink{}
	r := NewReceiver(cfg, s, store, testLog())
	l, err := NewListener(cfg, r, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.Shutdown(ctx)
	})
	return l, s, store
}

// send delivers msg with Go's net/smtp client and returns the server's
// final answer as an error (nil for 250).
func send(addr, from string, to []string, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
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

const citizenMail = `From: Maria Rossi <Maria.Rossi@Example.IT>
To: contatti@example.gov.it, dati@example.gov.it
Subject: Re: [2026-000042] Microdati del censimento
Message-ID: <abc123@mail.example.it>
In-Reply-To: <root@mail.example.it>
References: <root@mail.example.it>
Date: Mon, 2 Nov 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Buongiorno, vorrei i microdati del censimento 2021.

Il giorno lun 1 nov 2026 Ufficio ha scritto:
> Gentile utente, ci serve il modulo.

--b1
Content-Type: application/pdf; name="modulo.pdf"
Content-Disposition: attachment; filename="modulo.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg==
--b1--
`

// TestListenerDelivers: a message to two mailboxes becomes one contact per
// mailbox, each with the raw original and the attachment as blob
// references, the thread keys, the receiving address and no more than
// what a contact may carry.
func TestListenerDelivers(t *testing.T) {
	l, s, store := startListener(t, testConfig())
	if err := send(l.Addr(), "maria.rossi@example.it", []string{"contatti@example.gov.it", "DATI@example.gov.it"}, citizenMail); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := s.all()
	if len(got) != 2 {
		t.Fatalf("%d contacts, want 2", len(got))
	}
	c := got[0]
	if c.ChannelKind != "email" || c.ChannelId != "contatti" || got[1].ChannelId != "dati" || c.ExternalId != "abc123@mail.example.it" {
		t.Fatalf("contact = %+v", c)
	}
	if c.Sender.Email != "maria.rossi@example.it" || c.Sender.Name != "Maria Rossi" || c.Subject != "Re: [2026-000042] Microdati del censimento" {
		t.Errorf("sender %+v subject %q", c.Sender, c.Subject)
	}
	if strings.Contains(c.BodyText, "ci serve il modulo") || !strings.Contains(c.BodyText, "microdati del censimento 2021") {
		t.Errorf("body = %q (the quote must be trimmed)", c.BodyText)
	}
	keys := strings.Join(c.ThreadKeys, " ")
	for _, k := range []string{"ref:2026-000042", "msg:root@mail.example.it", threadkey.Subject("microdati del censimento", 7)} {
		mustContain(t, "thread keys", keys, k)
	}
	if c.Metadata["to"] != "contatti@example.gov.it" || got[1].Metadata["to"] != "dati@example.gov.it" || c.Metadata["via"] != "smtp" ||
		c.Metadata["mail_from"] != "maria.rossi@example.it" {
		t.Errorf("metadata = %v / %v", c.Metadata, got[1].Metadata)
	}
	if !c.Acknowledge || c.Automatic != "" || c.DeliveryReport != nil || c.Id == got[1].Id {
		t.Errorf("acknowledge %v automatic %q report %v ids %s %s", c.Acknowledge, c.Automatic, c.DeliveryReport, c.Id, got[1].Id)
	}
	if len(c.Attachments) != 2 || !c.Attachments[0].Original || c.Attachments[0].ContentType != "message/rfc822" ||
		c.Attachments[1].FileName != "modulo.pdf" || c.Attachments[1].ContentType != "application/pdf" {
		t.Fatalf("attachments = %+v", c.Attachments)
	}
	raw := readBlob(t, store, c.Attachments[0].Sha256)
	mustContain(t, "raw original", raw, "Return-Path: <maria.rossi@example.it>\r\nReceived: from ")
	mustContain(t, "raw original", raw, "Message-ID: <abc123@mail.example.it>\r\n")
	mustContain(t, "stored attachment", readBlob(t, store, c.Attachments[1].Sha256), "%PDF-1.4")

	// The same message again: the same contact ids (JetStream and intake
	// drop the copy).
	if err := send(l.Addr(), "maria.rossi@example.it", []string{"contatti@example.gov.it"}, citizenMail); err != nil {
		t.Fatal(err)
	}
	if again := s.all(); len(again) != 3 || again[2].Id != c.Id || again[2].ExternalId != c.ExternalId {
		t.Fatalf("redelivery: %d contacts, id %s want %s", len(again), again[len(again)-1].Id, c.Id)
	}
}

func smtpCode(err error) int {
	var te interface{ Error() string }
	if errors.As(err, &te) {
		var code int
		fmt.Sscanf(err.Error(), "%d", &code)
		return code
	}
	return 0
}

// TestListenerRefuses: an unknown recipient gets 550, a message over the
// size limit 552 (whether the client announced its size or not), a
// storage failure 451 (the MTA retries, and the retry is stored).
func TestListenerRefuses(t *testing.T) {
	cfg := testConfig()
	l, s, _ := startListener(t, cfg)

	err := send(l.Addr(), "a@example.it", []string{"nobody@example.gov.it"}, citizenMail)
	if smtpCode(err) != 550 || !strings.Contains(err.Error(), "no such mailbox") {
		t.Errorf("unknown recipient: %v", err)
	}

	big := citizenMail + strings.Repeat(strings.Repeat("x", 990)+"\n", int(cfg.Listener.MaxSize)/990)
	err = send(l.Addr(), "a@example.it", []string{"contatti@example.gov.it"}, big)
	if smtpCode(err) != 552 || !strings.Contains(err.Error(), "the limit is 64 KiB") {
		t.Errorf("oversized DATA: %v", err)
	}
	// Announced with SIZE= (go-smtp's client sends it).
	c, err := gosmtp.Dial(l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Mail("a@example.it", &gosmtp.MailOptions{Size: 10 << 20})
	if smtpCode(err) != 552 && !strings.Contains(err.Error(), "552") {
		t.Errorf("MAIL FROM SIZE=10MiB: %v", err)
	}
	if ok, v := c.Extension("SIZE"); !ok || v != "65536" {
		t.Errorf("EHLO SIZE = %v %q", ok, v)
	}
	c.Close()

	s.failNext(1)
	err = send(l.Addr(), "a@example.it", []string{"contatti@example.gov.it"}, citizenMail)
	if smtpCode(err) != 451 {
		t.Fatalf("storage failure: %v", err)
	}
	if err := send(l.Addr(), "a@example.it", []string{"contatti@example.gov.it"}, citizenMail); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(s.all()); n != 1 {
		t.Fatalf("%d contacts stored, want 1", n)
	}
	if err := send(l.Addr(), "a@example.it", []string{"contatti@example.gov.it"}, ""); smtpCode(err) != 554 {
		t.Errorf("empty message: %v", err)
	}
	long := "From: a@example.it\nSubject: long\n\n" + strings.Repeat("y", 20<<10) + "\n"
	if err := send(l.Addr(), "a@example.it", []string{"contatti@example.gov.it"}, long); smtpCode(err) != 500 || !strings.Contains(err.Error(), "Line too long") {
		t.Errorf("a 20 KiB line: %v", err)
	}
}

// TestListenerHostile: a message over the parser's limits (nesting far
// deeper than any client makes, a part of a refused type) is accepted and
// kept raw, with notes saying what was not read; no acknowledgement to an
// automatic message; a bounce of our message carries its report.
func TestListenerHostile(t *testing.T) {
	l, s, store := startListener(t, testConfig())
	var b strings.Builder
	b.WriteString("From: x@example.org\nTo: contatti@example.gov.it\nSubject: nested\nMIME-Version: 1.0\n")
	for i := 0; i < 70; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\ndeep text\n")
	for i := 69; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	if err := send(l.Addr(), "x@example.org", []string{"contatti@example.gov.it"}, b.String()); err != nil {
		t.Fatal(err)
	}
	exe := "From: y@example.org\nTo: contatti@example.gov.it\nSubject: program\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n\nsee attached\n--z\nContent-Type: application/octet-stream; name=x.exe\nContent-Disposition: attachment; filename=x.exe\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA==\n--z--\n"
	if err := send(l.Addr(), "y@example.org", []string{"info@example.gov.it"}, exe); err != nil {
		t.Fatal(err)
	}
	ooo, err := os.ReadFile("mailparse/testdata/ooo-gmail-vacation.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := send(l.Addr(), "z@example.org", []string{"contatti@example.gov.it"}, strings.ReplaceAll(string(ooo), "\r\n", "\n")); err != nil {
		t.Fatal(err)
	}
	dsn, err := os.ReadFile("mailparse/testdata/dsn-postfix.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := send(l.Addr(), "", []string{"contatti@example.gov.it"}, strings.ReplaceAll(string(dsn), "\r\n", "\n")); err != nil {
		t.Fatal(err)
	}
	got := s.all()
	if len(got) != 4 {
		t.Fatalf("%d contacts, want 4", len(got))
	}
	notes := strings.Join(got[0].Notes, "\n")
	mustContain(t, "notes of the nested message", notes, "not read in full")
	mustContain(t, "notes of the nested message", notes, "original message is attached")
	mustContain(t, "raw of the nested message", readBlob(t, store, got[0].Attachments[0].Sha256), "deep text")
	notes = strings.Join(got[1].Notes, "\n")
	mustContain(t, "notes of the program", notes, "Not kept as an attachment: x.exe")
	if len(got[1].Attachments) != 1 || got[1].Metadata["rcpt_to"] != "info@example.gov.it" || got[1].ChannelId != "contatti" {
		t.Errorf("program contact = %+v", got[1])
	}
	if got[2].Acknowledge || got[2].Automatic != "auto_reply" {
		t.Errorf("out-of-office: acknowledge %v automatic %q", got[2].Acknowledge, got[2].Automatic)
	}
	rep := got[3].DeliveryReport
	if got[3].Acknowledge || got[3].Automatic != "bounce" || rep == nil || rep.Action != "failed" || rep.MessageExternalId == "" || rep.Status == "" {
		t.Errorf("bounce: acknowledge %v automatic %q report %+v", got[3].Acknowledge, got[3].Automatic, rep)
	}
}

// TestListenerLMTP: in LMTP mode an MTA's delivery agent gets one answer
// per recipient, 250 once stored.
func TestListenerLMTP(t *testing.T) {
	cfg := testConfig()
	cfg.Listener.LMTP = true
	l, s, _ := startListener(t, cfg)
	conn, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := gosmtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mta.example.gov.it"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("maria.rossi@example.it", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"contatti@example.gov.it", "dati@example.gov.it"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(citizenMail, "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithLMTPResponse()
	if err != nil || len(resp) != 2 {
		t.Fatalf("LMTP DATA: %v %v", resp, err)
	}
	got := s.all()
	if len(got) != 2 || got[0].Metadata["via"] != "lmtp" {
		t.Fatalf("contacts = %d (%v)", len(got), got)
	}
}
