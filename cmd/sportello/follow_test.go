package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
	"github.com/sportello/sportello/channels/email/emailtest"
	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/follow"
	"github.com/sportello/sportello/services/storage/storetest"
)

var (
	followLinkRE  = regexp.MustCompile(`/follow/(fl1_[A-Za-z0-9_-]{43})`)
	followFormRE  = regexp.MustCompile(`name="follow_token" value="([A-Za-z0-9_-]+)"`)
	caseRefRE     = regexp.MustCompile(`^\d{4}-\d{6}$`)
	followSentTxt = `id="follow-sent"`
)

// TestIntegrationFollowWithoutLogin: a citizen who used the web form
// without logging in asks for a link with the case's reference and their
// address; the link arrives by e-mail through the reply mailbox and opens
// the case's public thread (no internal notes) with a reply form. A wrong
// address gets the same page and no mail; forged, revoked and expired
// links and other cases are refused; requests are rate-limited.
func TestIntegrationFollowWithoutLogin(t *testing.T) {
	t.Parallel()
	sink := emailtest.Start(t)
	cfg := mailConfig(t, storetest.Backends()[0], sink)
	cfg.Web.ReplyMailbox = "dati"
	cfg.Web.Follow.PerAddress = 3
	// The limits count requests per clock hour: a run that crossed an hour
	// (1 run in 100 or so) saw its counts start again and the fourth
	// request let through. The links' clock runs from the middle of the
	// current hour, so the whole test stays within one hour.
	began, mid := time.Now(), time.Now().Truncate(time.Hour).Add(30*time.Minute)
	cfg.followClock = func() time.Time { return mid.Add(time.Since(began)) }
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg)
	s.submit(`{"name":"Lucia Neri","email":"lucia.neri@example.org","category":"microdata","subject":"Microdati del censimento","message":"Vorrei i microdati."}`)
	s.submit(`{"name":"Mario Bianchi","email":"mario.bianchi@example.org","category":"microdata","subject":"Serie storiche","message":"Vorrei le serie storiche."}`)
	mine, theirs := s.waitCase(t, "Microdati del censimento"), s.waitCase(t, "Serie storiche")
	ctx := withToken(adminToken)
	c, err := s.grpcCases().GetCase(ctx, &casesv1.GetCaseRequest{Id: mine})
	if err != nil || !caseRefRE.MatchString(c.GetReference()) {
		t.Fatalf("case %v, %v", c, err)
	}
	ref := c.GetReference()
	reply := s.reply(mine, "Gentile Lucia, i microdati sono in preparazione.")
	s.waitDelivery(mine, reply.Id, "sent")
	if _, err := s.grpcCases().AddMessage(ctx, &casesv1.AddMessageRequest{CaseId: mine, Direction: casesv1.Direction_DIRECTION_INTERNAL_NOTE,
		BodyText: "NOTA RISERVATA: chiedere all'ufficio censimento"}); err != nil {
		t.Fatal(err)
	}
	mails := 1

	b := newBrowser(t, s.base)
	ask := func(reference, address string) (int, string) {
		t.Helper()
		code, _, body := b.postHTML(s.base+"/follow", "application/x-www-form-urlencoded",
			[]byte(url.Values{"reference": {reference}, "email": {address}}.Encode()))
		return code, body
	}
	code, form := b.get(s.base + "/follow")
	if code != 200 || !strings.Contains(form, `name="reference"`) || !strings.Contains(form, "Segui la tua richiesta") {
		t.Fatalf("GET /follow: %d %s", code, form)
	}

	if code, en := b.get(s.base + "/follow?lang=en"); code != 200 || !strings.Contains(en, "Follow your request") || !strings.Contains(en, `lang="en"`) {
		t.Fatalf("GET /follow?lang=en: %d", code)
	}
	for _, bad := range []FollowLinks{{LinkTTL: "10m"}, {LinkTTL: "seven days"}, {LinkTTL: "721h"}, {PerAddress: -1}} {
		c := cfg
		c.Web.Follow = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "web.follow") {
			t.Errorf("web.follow %+v: err = %v", bad, err)
		}
	}

	// The right reference and address (as typed, with capitals and spaces).
	code, sent := ask(" "+ref+" ", " Lucia.Neri@Example.org ")
	if code != 200 || !strings.Contains(sent, followSentTxt) {
		t.Fatalf("POST /follow: %d %s", code, sent)
	}
	mails++
	msg, raw := sentMessage(t, sink, mails)
	if raw.To[0] != "lucia.neri@example.org" || raw.From != "dati@comune.example.it" {
		t.Fatalf("link mail from %s to %v", raw.From, raw.To)
	}
	m := followLinkRE.FindStringSubmatch(msg.TextBody)
	if m == nil || !strings.Contains(msg.TextBody, ref) {
		t.Fatalf("link mail body: %q", msg.TextBody)
	}
	token := m[1]
	current := token // the link in force (a new one revokes it)
	// Staff see that a link was sent, never the link: it is a credential.
	masked := 0
	for _, msg := range s.messages(mine) {
		if strings.Contains(msg.GetBodyText(), token) {
			t.Fatalf("the thread shows staff the token: %q", msg.GetBodyText())
		}
		if msg.GetKind() == follow.LinkKind && strings.Contains(msg.GetBodyText(), "/follow/…") {
			masked++
		}
	}
	if masked != 1 {
		t.Fatalf("%d masked link messages on the case, want 1", masked)
	}

	t.Run("a wrong address or an unknown reference gets the same page and no mail", func(t *testing.T) {
		for _, in := range [][2]string{{ref, "mario.bianchi@example.org"}, {"2099-999999", "lucia.neri@example.org"}, {ref, "x@example.org"}} {
			code, body := ask(in[0], in[1])
			if code != 200 || body != sent {
				t.Fatalf("%v: %d, page differs from the matching request's: %s", in, code, body)
			}
		}
		// A later mail would come after these requests' work is done: the
		// requests are handled synchronously, so nothing is pending.
		time.Sleep(time.Second)
		if n := len(sink.Messages()); n != mails {
			t.Fatalf("%d mails at the sink, want %d", n, mails)
		}
	})

	t.Run("the link shows the public thread, never internal notes", func(t *testing.T) {
		code, page := plainGet(t, http.DefaultClient, s.base+"/follow/"+token)
		if code != 200 || !strings.Contains(page, ref) || !strings.Contains(page, "i microdati sono in preparazione") ||
			!strings.Contains(page, "Vorrei i microdati.") {
			t.Fatalf("follow page: %d %s", code, page)
		}
		for _, hidden := range []string{"NOTA RISERVATA", "Serie storiche", token + "\n"} {
			if strings.Contains(page, hidden) {
				t.Fatalf("follow page shows %q", hidden)
			}
		}
		if !strings.Contains(page, "Messaggio automatico") {
			t.Fatal("the link's own message is not shown as an automatic message")
		}
	})

	t.Run("the link holder replies; the reply is an inbound portal message", func(t *testing.T) {
		_, page := plainGet(t, http.DefaultClient, s.base+"/follow/"+token)
		ft := followFormRE.FindStringSubmatch(page)
		if ft == nil {
			t.Fatalf("no reply form: %s", page)
		}
		post := func(v url.Values) (int, http.Header, string) {
			return b.postHTML(s.base+"/follow/"+token+"/messages", "application/x-www-form-urlencoded", []byte(v.Encode()))
		}
		if code, _, _ := post(url.Values{"body": {"senza modulo"}}); code != http.StatusForbidden {
			t.Fatalf("reply without the form token: %d", code)
		}
		// The form token with its first character changed to another one
		// ("x" when it began with "x" would be the same token, 1 time in 64).
		first := "x"
		if strings.HasPrefix(ft[1], "x") {
			first = "y"
		}
		if code, _, _ := post(url.Values{"body": {"falso"}, "follow_token": {first + ft[1][1:]}}); code != http.StatusForbidden {
			t.Fatalf("reply with a wrong form token: %d", code)
		}
		code, h, _ := post(url.Values{"body": {"Grazie, attendo."}, "follow_token": {ft[1]}})
		if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/follow/"+token+"?sent=1") {
			t.Fatalf("reply: %d %v", code, h)
		}
		var got *casesv1.Message
		for _, m := range s.messages(mine) {
			if m.GetBodyText() == "Grazie, attendo." {
				got = m
			}
		}
		if got == nil || got.GetDirection() != casesv1.Direction_DIRECTION_INBOUND || got.GetChannelKind() != cases.PortalChannel || got.GetAuthorName() != "Lucia Neri" {
			t.Fatalf("reply on the case: %v", got)
		}
		if _, page := plainGet(t, http.DefaultClient, s.base+"/follow/"+token); !strings.Contains(page, "Grazie, attendo.") {
			t.Fatal("the reply is not in the thread")
		}
	})

	t.Run("the token reaches its case and nothing else", func(t *testing.T) {
		if r := s.get("/v1/cases/"+mine, token); r.Status != 200 {
			t.Fatalf("own case over REST: %d %s", r.Status, r.Body)
		}
		if r := s.get("/v1/cases/"+mine+"/messages", token); r.Status != 200 || strings.Contains(string(r.Body), "NOTA RISERVATA") {
			t.Fatalf("own messages over REST: %d %s", r.Status, r.Body)
		}
		for _, path := range []string{"/v1/cases/" + theirs, "/v1/cases/" + theirs + "/messages", "/v1/cases", "/v1/cases/" + mine + "/events"} {
			if r := s.get(path, token); r.Status == 200 {
				t.Fatalf("%s with a follow token: %d %s", path, r.Status, r.Body)
			}
		}
		if _, err := s.grpcCases().AddMessage(withToken(token), &casesv1.AddMessageRequest{CaseId: theirs, BodyText: "intrusione"}); err == nil {
			t.Fatal("a follow token wrote on another case")
		}
		if _, err := s.grpcCases().AddMessage(withToken(token), &casesv1.AddMessageRequest{CaseId: mine, Direction: casesv1.Direction_DIRECTION_OUTBOUND, BodyText: "finta risposta"}); err == nil {
			t.Fatal("a follow token wrote an operator reply")
		}
	})

	t.Run("forged, malformed and expired links are refused", func(t *testing.T) {
		expired := follow.NewToken()
		note := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.InternalNote, Body: "test link", Kind: follow.LinkKind}
		past := time.Now().Add(-2 * time.Hour) // expired on the links' clock too: it is at most 30 minutes off
		// Another link for a case revokes the others: this one is for the
		// other case, expired.
		if err := s.app.db.CreateFollowLink(context.Background(), follow.Link{TokenHash: follow.HashToken(expired), CaseID: theirs,
			CreatedAt: past, ExpiresAt: past.Add(time.Hour)}, note, func(*cases.Case) ([]cases.Event, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		// The real token with its last character changed (to another one:
		// "A" when it ended in "A" would be the same token, 1 time in 64).
		last := "A"
		if strings.HasSuffix(token, "A") {
			last = "B"
		}
		for _, bad := range []string{follow.NewToken(), expired, "fl1_short", token[:len(token)-1] + last, "..%2F"} {
			code, page := plainGet(t, http.DefaultClient, s.base+"/follow/"+bad)
			if code != http.StatusNotFound || !strings.Contains(page, `id="follow-invalid"`) {
				t.Fatalf("link %q: %d %s", bad, code, page)
			}
			if r := s.get("/v1/cases/"+theirs, bad); r.Status != http.StatusUnauthorized {
				t.Fatalf("token %q over REST: %d", bad, r.Status)
			}
		}
	})

	t.Run("a new link revokes the old one; the address is rate-limited", func(t *testing.T) {
		if code, body := ask(ref, "lucia.neri@example.org"); code != 200 || body != sent {
			t.Fatalf("second request: %d", code)
		}
		mails++
		msg, _ := sentMessage(t, sink, mails)
		m := followLinkRE.FindStringSubmatch(msg.TextBody)
		if m == nil || m[1] == token {
			t.Fatalf("second link mail: %q", msg.TextBody)
		}
		if code, _ := plainGet(t, http.DefaultClient, s.base+"/follow/"+token); code != http.StatusNotFound {
			t.Fatalf("revoked link: %d", code)
		}
		if code, _ := plainGet(t, http.DefaultClient, s.base+"/follow/"+m[1]); code != 200 {
			t.Fatalf("new link: %d", code)
		}
		current = m[1]
		// per_address is 3, and the address asked three times (once with
		// an unknown reference): the fourth request is refused, whatever
		// the reference.
		code, body := ask(ref, "LUCIA.NERI@example.org")
		if code != http.StatusTooManyRequests || !strings.Contains(body, `id="follow-limited"`) {
			t.Fatalf("fourth request: %d %s", code, body)
		}
		time.Sleep(500 * time.Millisecond)
		if n := len(sink.Messages()); n != mails {
			t.Fatalf("%d mails at the sink, want %d", n, mails)
		}
	})

	t.Run("the link downloads its case's files the citizen sees, and no other", func(t *testing.T) {
		upload := func(caseID, name string, content []byte) *casesv1.Attachment {
			return attachmentOf(t, s.uploadRaw(caseID, adminToken, name, "application/pdf", content))
		}
		add := func(caseID string, dir casesv1.Direction, ids ...string) {
			if _, err := s.grpcCases().AddMessage(ctx, &casesv1.AddMessageRequest{CaseId: caseID, Direction: dir,
				BodyText: "In allegato.", AttachmentIds: ids}); err != nil {
				t.Fatal(err)
			}
		}
		shown := upload(mine, "tavola.pdf", []byte("%PDF-1.4 tavola"))
		add(mine, casesv1.Direction_DIRECTION_OUTBOUND, shown.Id)
		internal := upload(mine, "appunti.pdf", []byte("%PDF-1.4 appunti"))
		add(mine, casesv1.Direction_DIRECTION_INTERNAL_NOTE, internal.Id)
		theirFile := upload(theirs, "altrui.pdf", []byte("%PDF-1.4 altrui"))
		add(theirs, casesv1.Direction_DIRECTION_INTERNAL_NOTE, theirFile.Id)

		files := "/follow/" + current + "/attachments/"
		_, page := plainGet(t, http.DefaultClient, s.base+"/follow/"+current)
		if !strings.Contains(page, `href="`+files+shown.Id+`"`) || strings.Contains(page, internal.Id) {
			t.Fatalf("follow page links: %s", page)
		}
		r := s.do("GET", files+shown.Id, "", nil, nil)
		if r.Status != 200 || string(r.Body) != "%PDF-1.4 tavola" || r.Header.Get("Content-Security-Policy") != "sandbox" ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Disposition"), "tavola.pdf") {
			t.Fatalf("download: %d %v %q", r.Status, r.Header, r.Body)
		}
		for _, bad := range []string{
			files + theirFile.Id,                                        // another case's file
			files + internal.Id,                                         // an internal note's file
			files + "not-an-id",                                         // junk
			"/follow/" + token + "/attachments/" + shown.Id,             // a revoked link
			"/follow/" + follow.NewToken() + "/attachments/" + shown.Id, // an unknown link
		} {
			if r := s.do("GET", bad, "", nil, nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "PDF") {
				t.Errorf("GET %s: %d %q, want 404", bad, r.Status, r.Body)
			}
		}
	})
}
