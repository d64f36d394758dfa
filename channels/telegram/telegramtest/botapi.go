// Package telegramtest is a fake Bot API server for tests: sendMessage,
// sendDocument, getFile and file downloads, with the documented request
// and response shapes; it records what it was sent.
package telegramtest

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// Call is one method call the fake received.
type Call struct {
	Method string
	// Params are the JSON body's or the form's fields.
	Params map[string]any
	// File is a multipart call's file part.
	File []byte
}

// Failure is an answer given instead of the normal one.
type Failure struct {
	Status int
	Body   string
}

// BotAPI is the fake server.
type BotAPI struct {
	*httptest.Server
	Token string
	// Files are the downloadable files by file_id.
	Files map[string][]byte

	mu       sync.Mutex
	calls    []Call
	failures []Failure
	next     int64
}

// New starts a fake for token.
func New(token string) *BotAPI {
	b := &BotAPI{Token: token, Files: map[string][]byte{}, next: 5000}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	return b
}

// FailNext makes the next method calls answer fs, in order.
func (b *BotAPI) FailNext(fs ...Failure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, fs...)
}

// Calls returns the method calls named method ("" for all).
func (b *BotAPI) Calls(method string) []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Call
	for _, c := range b.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (b *BotAPI) serve(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"+b.Token+"/"); ok && r.Method == http.MethodGet {
		data, ok := b.Files[strings.TrimPrefix(rest, "documents/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+b.Token+"/")
	if !ok {
		reply(w, http.StatusUnauthorized, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	call := Call{Method: method, Params: map[string]any{}}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(p)
			if p.FileName() != "" {
				call.File = data
				call.Params[p.FormName()] = p.FileName()
			} else {
				call.Params[p.FormName()] = string(data)
			}
		}
	} else {
		_ = json.NewDecoder(r.Body).Decode(&call.Params)
	}
	b.mu.Lock()
	b.calls = append(b.calls, call)
	var fail *Failure
	if len(b.failures) > 0 {
		fail = &b.failures[0]
		b.failures = b.failures[1:]
	}
	b.next++
	id := b.next
	b.mu.Unlock()
	if fail != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail.Status)
		_, _ = io.WriteString(w, fail.Body)
		return
	}
	if text, _ := call.Params["text"].(string); method == "sendMessage" && len(utf16.Encode([]rune(text))) > 4096 {
		reply(w, http.StatusBadRequest, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: message is too long"})
		return
	}
	switch method {
	case "sendMessage", "sendDocument":
		reply(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{"message_id": id, "date": time.Now().Unix(),
			"chat": map[string]any{"id": call.Params["chat_id"], "type": "private"}, "text": call.Params["text"]}})
	case "getFile":
		fid, _ := call.Params["file_id"].(string)
		data, ok := b.Files[fid]
		if !ok {
			reply(w, http.StatusBadRequest, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{"file_id": fid, "file_unique_id": "u" + fid,
			"file_size": len(data), "file_path": "documents/" + fid}})
	default:
		reply(w, http.StatusNotFound, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
	}
}
