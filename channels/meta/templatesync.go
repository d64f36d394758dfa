package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sportello/sportello/channels"
)

// Template statuses of the WhatsApp Business Management API: only an
// APPROVED template can be sent.
const TemplateApproved = "APPROVED"

// SyncedTemplate and TemplateSync are channels'.
type (
	SyncedTemplate = channels.SyncedTemplate
	TemplateSync   = channels.TemplateSync
)

var _ channels.TemplateSyncer = (*Adapter)(nil)

// templateState is the adapter's view of Meta's templates.
type templateState struct {
	mu   sync.Mutex
	last TemplateSync
	// byKey is Templates by name and language.
	byKey map[string]SyncedTemplate
}

// templatePage is one page of GET /{WABA-ID}/message_templates.
type templatePage struct {
	Data []struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		Language        string `json:"language"`
		Status          string `json:"status"`
		Category        string `json:"category"`
		ParameterFormat string `json:"parameter_format"`
		Components      []struct {
			Type   string `json:"type"`
			Format string `json:"format"`
			Text   string `json:"text"`
		} `json:"components"`
	} `json:"data"`
	Paging struct {
		Cursors struct {
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// maxTemplatePages bounds one sync (100 templates a page).
const maxTemplatePages = 50

// decodeTemplatePage reads one page of the message_templates answer;
// templates without a name or language are skipped, and the next page's
// cursor is returned ("" on the last page).
func decodeTemplatePage(data []byte) ([]SyncedTemplate, string, error) {
	var p templatePage
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, "", fmt.Errorf("message_templates: undecodable answer: %w", err)
	}
	var out []SyncedTemplate
	for _, d := range p.Data {
		if !templateName.MatchString(d.Name) || !templateLanguage.MatchString(d.Language) {
			continue
		}
		t := SyncedTemplate{Name: d.Name, Language: d.Language, Status: strings.ToUpper(d.Status), Category: d.Category,
			ParameterFormat: strings.ToUpper(d.ParameterFormat)}
		if t.ParameterFormat == "" {
			t.ParameterFormat = "POSITIONAL"
		}
		for _, c := range d.Components {
			if strings.EqualFold(c.Type, "BODY") {
				t.Body = c.Text
			}
		}
		seen := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(t.Body, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				t.Params = append(t.Params, m[1])
			}
		}
		out = append(out, t)
	}
	next := ""
	if p.Paging.Next != "" {
		next = p.Paging.Cursors.After
	}
	return out, next, nil
}

// SyncTemplates fetches the WhatsApp Business Account's templates from
// the Graph API (GET /{waba_id}/message_templates, every page) and keeps
// them: a template Meta has not approved (paused, rejected, disabled,
// deleted) is then refused up front. An error when the channel has no
// waba_id.
func (a *Adapter) SyncTemplates(ctx context.Context) (TemplateSync, error) {
	if a.kind != KindWhatsApp || a.cfg.WABAID == "" {
		return TemplateSync{}, errors.New("template sync needs a WhatsApp channel with waba_id configured")
	}
	var all []SyncedTemplate
	after := ""
	var err error
	for page := 0; ; page++ {
		if page == maxTemplatePages {
			err = fmt.Errorf("message_templates: more than %d pages", maxTemplatePages)
			break
		}
		q := url.Values{"fields": {"name,language,status,category,parameter_format,components"}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		var raw json.RawMessage
		if err = a.graph(ctx, http.MethodGet, "/"+url.PathEscape(a.cfg.WABAID)+"/message_templates?"+q.Encode(), nil, "", &raw); err != nil {
			break
		}
		var got []SyncedTemplate
		if got, after, err = decodeTemplatePage(raw); err != nil {
			break
		}
		all = append(all, got...)
		if after == "" {
			break
		}
	}
	s := &a.templates
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last.At = time.Now()
	if err != nil {
		s.last.Err = err.Error()
		a.Failed(fmt.Errorf("template sync: %w", err))
		return s.last, err
	}
	s.last.OK, s.last.Err, s.last.Templates = s.last.At, "", all
	s.byKey = map[string]SyncedTemplate{}
	for _, t := range all {
		s.byKey[t.Name+"\x00"+t.Language] = t
	}
	return s.last, nil
}

// LastTemplateSync is what the last sync found (zero when none ran).
func (a *Adapter) LastTemplateSync() TemplateSync {
	a.templates.mu.Lock()
	defer a.templates.mu.Unlock()
	return a.templates.last
}

// TemplateSyncEnabled reports whether the channel syncs templates with Meta.
func (a *Adapter) TemplateSyncEnabled() bool { return a.kind == KindWhatsApp && a.cfg.WABAID != "" }

// ErrTemplateWithdrawn: Meta does not (or no longer) approve the template.
var ErrTemplateWithdrawn = errors.New("message template not approved by Meta")

// CheckTemplate refuses template t when the last successful sync found it
// not approved (paused, rejected, disabled...) or missing in t's
// language. Without sync (no waba_id) or before a first successful sync,
// the configured templates are trusted.
func (a *Adapter) CheckTemplate(t Template) error {
	a.templates.mu.Lock()
	defer a.templates.mu.Unlock()
	if a.templates.byKey == nil {
		return nil
	}
	st, ok := a.templates.byKey[t.Name+"\x00"+t.Language]
	when := a.templates.last.OK.UTC().Format("2006-01-02 15:04 MST")
	switch {
	case !ok:
		return fmt.Errorf("%w: Meta has no template %q in language %s (checked %s)", ErrTemplateWithdrawn, t.Name, t.Language, when)
	case st.Status != TemplateApproved:
		return fmt.Errorf("%w: Meta reports template %q (%s) as %s (checked %s); it cannot be sent until it is approved again",
			ErrTemplateWithdrawn, t.Name, t.Language, st.Status, when)
	}
	return nil
}

// SyncTemplatesLoop syncs at once and then every template_sync_interval
// until ctx ends or the adapter closes; nothing when sync is off.
func (a *Adapter) SyncTemplatesLoop(ctx context.Context) {
	if !a.TemplateSyncEnabled() {
		return
	}
	t := time.NewTicker(a.cfg.TemplateSyncInterval)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		if _, err := a.SyncTemplates(sctx); err != nil && ctx.Err() == nil {
			a.log.Warn("whatsapp template sync failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-a.closed:
			return
		case <-t.C:
		}
	}
}
