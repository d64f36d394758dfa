// Package metatest is a fake Graph API for tests: it answers the Cloud
// API's messages and media endpoints and the Messenger Send API with the
// documented request and response shapes, and records what it was sent.
package metatest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Request is one call the fake received.
type Request struct {
	Method, Path string
	// JSON is the decoded JSON body, nil for other bodies.
	JSON map[string]any
	// Form holds a multipart body's fields; Files its file parts' bytes
	// by field name.
	Form  map[string]string
	Files map[string][]byte
}

// Failure is an answer to give instead of the normal one.
type Failure struct {
	Status int
	Body   string
}

// Graph is the fake server.
type Graph struct {
	*httptest.Server
	Token string
	// Media are the downloadable files by media id.
	Media map[string][]byte
	// Templates are the approved message templates by name, with their
	// body parameter count; a template send naming another is refused
	// (error 132001), one with another count too (error 132000).
	Templates map[string]int
	// InstagramPages are the page ids whose Send API is Instagram's: a
	// text there takes at most 1000 bytes instead of Messenger's 2000
	// characters.
	InstagramPages map[string]bool
	// WABATemplates are the message templates of each WhatsApp Business
	// Account id, as GET /{waba-id}/message_templates lists them (objects
	// with name, language, status, category, components ...).
	WABATemplates map[string][]map[string]any

	mu       sync.Mutex
	requests []Request
	failures []Failure
	n        int
}

// NewGraph starts a fake accepting token.
func NewGraph(token string) *Graph {
	g := &Graph{Token: token, Media: map[string][]byte{}, Templates: map[string]int{}, InstagramPages: map[string]bool{}, WABATemplates: map[string][]map[string]any{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	return g
}

// FailNext makes the next calls answer fs, in order.
func (g *Graph) FailNext(fs ...Failure) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures = append(g.failures, fs...)
}

// SetWABATemplates replaces the templates of WhatsApp Business Account
// waba while the server runs (Meta approving or pausing one).
func (g *Graph) SetWABATemplates(waba string, ts []map[string]any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.WABATemplates[waba] = ts
}

// Requests returns the calls so far.
func (g *Graph) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.requests...)
}

// Sent returns the message sends (POST .../messages) so far.
func (g *Graph) Sent() []Request {
	var out []Request
	for _, r := range g.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages") {
			out = append(out, r)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Graph) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+g.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Invalid OAuth access token.",
			"type": "OAuthException", "code": 190, "fbtrace_id": "Afake"}})
		return
	}
	req := Request{Method: r.Method, Path: r.URL.Path}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		_ = json.NewDecoder(r.Body).Decode(&req.JSON)
	case ct == "multipart/form-data":
		req.Form, req.Files = map[string]string{}, map[string][]byte{}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(p)
			if p.FileName() != "" {
				req.Files[p.FormName()] = data
			} else {
				req.Form[p.FormName()] = string(data)
			}
		}
	}
	g.mu.Lock()
	g.requests = append(g.requests, req)
	var fail *Failure
	if len(g.failures) > 0 && r.Method == http.MethodPost {
		fail = &g.failures[0]
		g.failures = g.failures[1:]
	}
	g.n++
	n := g.n
	g.mu.Unlock()
	if fail != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail.Status)
		_, _ = io.WriteString(w, fail.Body)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "download":
		data, ok := g.Media[parts[1]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "message_templates":
		g.mu.Lock()
		all, ok := g.WABATemplates[parts[0]]
		g.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "Unsupported get request. Object with ID '" + parts[0] + "' does not exist",
				"type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "Afake"}})
			return
		}
		g.templatePage(w, r, all)
	case r.Method == http.MethodGet && len(parts) == 1:
		data, ok := g.Media[parts[0]]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "Unsupported get request.",
				"type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "Afake"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp", "url": g.URL + "/download/" + parts[0],
			"mime_type": http.DetectContentType(data), "sha256": "", "file_size": len(data), "id": parts[0]})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "media":
		writeJSON(w, http.StatusOK, map[string]any{"id": fmt.Sprintf("media%d", n)})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "messages" && req.JSON != nil && req.JSON["messaging_product"] == "whatsapp":
		to, _ := req.JSON["to"].(string)
		msg := map[string]any{"id": fmt.Sprintf("wamid.FAKE%06d", n)}
		if text, _ := req.JSON["text"].(map[string]any); req.JSON["type"] == "text" && utf8.RuneCountInString(fmt.Sprint(text["body"])) > 4096 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "(#100) Invalid parameter",
				"type": "OAuthException", "code": 100, "error_data": map[string]any{"messaging_product": "whatsapp",
					"details": "Param text['body'] must be at most 4096 characters long."}, "fbtrace_id": "Afake"}})
			return
		}
		if req.JSON["type"] == "template" {
			if code, text := g.checkTemplate(req.JSON["template"]); code != 0 {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": fmt.Sprintf("(#%d) %s", code, text),
					"type": "OAuthException", "code": code, "fbtrace_id": "Afake"}})
				return
			}
			msg["message_status"] = "accepted"
		}
		writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
			"contacts": []any{map[string]any{"input": to, "wa_id": to}},
			"messages": []any{msg}})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "messages":
		msg, _ := req.JSON["message"].(map[string]any)
		text, _ := msg["text"].(string)
		g.mu.Lock()
		ig := g.InstagramPages[parts[0]]
		g.mu.Unlock()
		if (ig && len(text) > 1000) || (!ig && utf8.RuneCountInString(text) > 2000) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "(#100) Length of param message[text] must be less than or equal to " + map[bool]string{true: "1000", false: "2000"}[ig],
				"type": "OAuthException", "code": 100, "fbtrace_id": "Afake"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"recipient_id": "psid", "message_id": fmt.Sprintf("m_FAKE%06d", n)})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "Unknown path components: " + r.URL.Path,
			"type": "OAuthException", "code": 2500, "fbtrace_id": "Afake"}})
	}
}

// checkTemplate checks a template message object as the Cloud API does:
// a known name, a language code, body parameters of type text in the
// template's number. It returns the error code and message, 0 if valid.
func (g *Graph) checkTemplate(v any) (int, string) {
	t, _ := v.(map[string]any)
	name, _ := t["name"].(string)
	lang, _ := t["language"].(map[string]any)
	if code, _ := lang["code"].(string); name == "" || code == "" {
		return 100, "Invalid parameter: template name and language.code are required"
	}
	g.mu.Lock()
	want, ok := g.Templates[name]
	g.mu.Unlock()
	if !ok {
		return 132001, "Template name does not exist in the translation"
	}
	got := 0
	comps, _ := t["components"].([]any)
	for _, c := range comps {
		c, _ := c.(map[string]any)
		params, _ := c["parameters"].([]any)
		switch c["type"] {
		case "body":
			for _, p := range params {
				p, _ := p.(map[string]any)
				if text, _ := p["text"].(string); p["type"] != "text" || text == "" {
					return 100, "Invalid parameter: body parameters must be of type text with a text"
				}
				if n, ok := p["parameter_name"]; ok && n == "" {
					return 100, "Invalid parameter: parameter_name must not be empty"
				}
				got++
			}
		case "header":
			if len(params) != 1 {
				return 132000, "Number of parameters does not match the expected number of params: header takes one"
			}
			p, _ := params[0].(map[string]any)
			switch typ, _ := p["type"].(string); typ {
			case "text":
				if text, _ := p["text"].(string); text == "" {
					return 100, "Invalid parameter: header text parameter needs a text"
				}
			case "image", "document", "video":
				media, _ := p[typ].(map[string]any)
				link, _ := media["link"].(string)
				id, _ := media["id"].(string)
				if (link == "") == (id == "") || (link != "" && !strings.HasPrefix(link, "https://")) {
					return 100, "Invalid parameter: " + typ + " needs one of id and an https link"
				}
			default:
				return 100, "Invalid parameter: header parameter type must be text, image, document or video"
			}
		case "button":
			sub, _ := c["sub_type"].(string)
			idx, _ := c["index"].(string)
			if _, err := strconv.Atoi(idx); err != nil || (sub != "quick_reply" && sub != "url") || len(params) != 1 {
				return 100, "Invalid parameter: button components need sub_type quick_reply or url, a numeric string index and one parameter"
			}
			p, _ := params[0].(map[string]any)
			if (sub == "quick_reply" && (p["type"] != "payload" || p["payload"] == "")) || (sub == "url" && (p["type"] != "text" || p["text"] == "")) {
				return 100, "Invalid parameter: a quick_reply button takes a payload, a url button a text"
			}
		default:
			return 100, "Invalid parameter: component type must be header, body or button"
		}
	}
	if got != want {
		return 132000, "Number of parameters does not match the expected number of params"
	}
	return 0, ""
}

// templatePage answers one page of message_templates: limit (default 25)
// templates from the cursor after, only the fields asked for (plus id),
// paging.cursors and, when more follow, paging.next.
func (g *Graph) templatePage(w http.ResponseWriter, r *http.Request, all []map[string]any) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, err = 25, nil
	}
	from := 0
	if a := q.Get("after"); a != "" {
		b, derr := base64.StdEncoding.DecodeString(a)
		n, aerr := strconv.Atoi(string(b))
		if derr != nil || aerr != nil || n < 0 || n > len(all) {
			err = errors.New("bad cursor")
		}
		from = n
	}
	if err != nil || limit < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "(#100) Invalid parameter",
			"type": "OAuthException", "code": 100, "fbtrace_id": "Afake"}})
		return
	}
	fields := map[string]bool{"id": true}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		fields[f] = true
	}
	to := min(from+limit, len(all))
	data := []any{}
	for _, t := range all[from:to] {
		out := map[string]any{}
		for k, v := range t {
			if fields[k] || q.Get("fields") == "" {
				out[k] = v
			}
		}
		data = append(data, out)
	}
	cursor := func(n int) string { return base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(n))) }
	paging := map[string]any{"cursors": map[string]any{"before": cursor(from), "after": cursor(to)}}
	if to < len(all) {
		next := *r.URL
		nq := next.Query()
		nq.Set("after", cursor(to))
		next.RawQuery = nq.Encode()
		paging["next"] = g.URL + next.RequestURI()
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "paging": paging})
}
