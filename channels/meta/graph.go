package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	inboundv1 "github.com/sportello/sportello/api/sportello/inbound/v1"
	outboundv1 "github.com/sportello/sportello/api/sportello/outbound/v1"
	"github.com/sportello/sportello/channels"
	"github.com/sportello/sportello/channels/split"
	"github.com/sportello/sportello/services/attachments"
)

// permanentMediaError: a file that no retry will fetch (gone, refused by
// the attachments policy); the message is kept with a note.
type permanentMediaError struct{ msg string }

func (e *permanentMediaError) Error() string { return e.msg }

// mediaInfo is the Graph API's answer for GET /{media-id}.
type mediaInfo struct {
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
	ID       string `json:"id"`
}

// fetch stores one file of a message in the blob store: a WhatsApp media
// id is looked up with the Graph API, then its URL downloaded with the
// access token; a Messenger/Instagram attachment URL is downloaded as is.
func (a *Adapter) fetch(ctx context.Context, md Media) (*inboundv1.BlobRef, error) {
	if a.deps.Blobs == nil {
		return nil, &permanentMediaError{"no attachment store is configured"}
	}
	url, name := md.URL, md.FileName
	auth := false
	if md.ID != "" {
		var info mediaInfo
		if err := a.graph(ctx, http.MethodGet, "/"+md.ID, nil, "", &info); err != nil {
			return nil, mediaError(err)
		}
		url, auth = info.URL, true
		if info.FileSize > 0 && a.maxFile() > 0 && info.FileSize > a.maxFile() {
			return nil, &permanentMediaError{fmt.Sprintf("%s is larger than the %s allowed", attachments.FormatSize(info.FileSize), attachments.FormatSize(a.maxFile()))}
		}
	}
	if url == "" {
		return nil, &permanentMediaError{"the platform gave no address for it"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") || req.URL.Host == "" {
		return nil, &permanentMediaError{fmt.Sprintf("the platform gave an unusable address for it (%.100q)", url)}
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+a.cfg.AccessToken)
	}
	resp, err := a.deps.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download media: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("download media: HTTP %d", resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, err
		}
		return nil, &permanentMediaError{err.Error()}
	}
	blob, err := a.deps.Blobs.Put(ctx, resp.Body)
	if err != nil {
		if errors.Is(err, attachments.ErrTooLarge) || errors.Is(err, attachments.ErrTypeNotAllowed) || errors.Is(err, attachments.ErrEmpty) {
			return nil, &permanentMediaError{err.Error()}
		}
		return nil, fmt.Errorf("store media: %w", err)
	}
	if name == "" {
		name = attachments.DefaultFileName(blob.ContentType)
	}
	return &inboundv1.BlobRef{Sha256: blob.SHA256, Size: blob.Size, ContentType: blob.ContentType,
		FileName: attachments.SanitizeFileName(name)}, nil
}

func (a *Adapter) maxFile() int64 {
	if m, ok := a.deps.Blobs.(interface{ MaxSize() int64 }); ok {
		return m.MaxSize()
	}
	return 0
}

func mediaError(err error) error {
	var ge *GraphError
	if errors.As(err, &ge) && !ge.Temporary() {
		return &permanentMediaError{err.Error()}
	}
	return err
}

// GraphError is an error answer of the Graph API.
type GraphError struct {
	HTTPStatus int
	Message    string `json:"message"`
	Type       string `json:"type"`
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	TraceID    string `json:"fbtrace_id"`
	RetryAfter time.Duration
}

func (e *GraphError) Error() string {
	s := fmt.Sprintf("Graph API error %d", e.Code)
	if e.Subcode != 0 {
		s += fmt.Sprintf("/%d", e.Subcode)
	}
	return s + fmt.Sprintf(" (HTTP %d): %s", e.HTTPStatus, e.Message)
}

// Rate-limit and throttling codes of the Graph API and the Cloud API.
var rateLimited = map[int]bool{4: true, 17: true, 32: true, 613: true, 80007: true, 130429: true, 131048: true, 131056: true}

// Temporary reports whether a retry later may succeed: rate limits,
// server errors, an expired or revoked token (an administrator renews it).
func (e *GraphError) Temporary() bool {
	return rateLimited[e.Code] || e.HTTPStatus >= 500 || e.HTTPStatus == http.StatusTooManyRequests || e.Code == 1 || e.Code == 2 || e.Code == 190
}

// outsideWindow reports whether the platform refused the reply because the
// citizen's last message is older than its messaging window.
func (e *GraphError) outsideWindow() bool {
	return e.Code == 131047 || (e.Code == 10 && e.Subcode == 2018278) || e.Subcode == 2534022
}

// graph calls the Graph API: body is JSON (or a multipart form when
// contentType is set); out receives the JSON answer.
func (a *Adapter) graph(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.cfg.GraphURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.AccessToken)
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.deps.Client.Do(req)
	if err != nil {
		return fmt.Errorf("graph %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("graph %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var env struct {
			Error *GraphError `json:"error"`
		}
		ge := &GraphError{}
		if json.Unmarshal(data, &env) == nil && env.Error != nil {
			ge = env.Error
		} else {
			ge.Message = strings.TrimSpace(string(data[:min(len(data), 300)]))
		}
		ge.HTTPStatus = resp.StatusCode
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ge.RetryAfter = time.Duration(s) * time.Second
		}
		return ge
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("graph %s: undecodable answer: %w", path, err)
	}
	return nil
}

// ExternalID is "": the platform names a reply only when it accepts it
// (see SendReceipt).
func (a *Adapter) ExternalID(*outboundv1.OutboundMessage) string { return "" }

func (a *Adapter) Send(ctx context.Context, m *outboundv1.OutboundMessage) error {
	_, err := a.SendReceipt(ctx, m)
	return err
}

// SendReceipt sends every part of m in turn (see SendPart); the receipt
// names the first. A failure after a part was accepted is permanent, so
// nothing is sent twice: the OUTBOUND consumer uses SendPart instead and
// resumes where a failure stopped.
func (a *Adapter) SendReceipt(ctx context.Context, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	return channels.SendParts(ctx, a, m)
}

// ErrOutsideWindow: the citizen's last message is older than the
// platform's window.
var ErrOutsideWindow = errors.New("outside the platform's 24-hour reply window")

// outbound is how a message goes out: to user, as an approved template
// (one part) or as its text's parts then one part per file.
type outbound struct {
	user     string
	template bool
	texts    []string
	files    []*outboundv1.OutboundAttachment
}

func (o outbound) parts() int {
	if o.template {
		return 1
	}
	return len(o.texts) + len(o.files)
}

// plan checks m and splits its text at the platform's limit.
func (a *Adapter) plan(m *outboundv1.OutboundMessage) (outbound, error) {
	user, ok := strings.CutPrefix(m.GetTo().GetHandle(), a.kind+":")
	if !ok || user == "" {
		return outbound{}, channels.Permanent(fmt.Errorf("the citizen has no %s id to answer", kindNames[a.kind]))
	}
	if m.GetTemplate() != nil {
		return outbound{user: user, template: true}, nil
	}
	last := m.GetLastInboundTime()
	if last == nil || time.Since(last.AsTime()) > ReplyWindow {
		when := "never wrote on this channel"
		if last != nil {
			when = "last wrote on " + last.AsTime().UTC().Format("2006-01-02 15:04 MST")
		}
		return outbound{}, channels.Permanent(fmt.Errorf("%w: the citizen %s; %s allows only approved message templates after 24 hours, so answer on another channel or wait for the citizen to write",
			ErrOutsideWindow, when, kindNames[a.kind]))
	}
	o := outbound{user: user, texts: split.Text(m.GetBodyText(), TextLimit(a.kind)), files: m.GetAttachments()}
	if o.parts() == 0 {
		return outbound{}, channels.Permanent(errors.New("nothing to send: no text and no files"))
	}
	return o, nil
}

// Parts implements channels.PartSender: a template is one message; free
// text is split at the platform's limit (TextLimit), and each file is a
// message of its own.
func (a *Adapter) Parts(m *outboundv1.OutboundMessage) (int, error) {
	o, err := a.plan(m)
	return o.parts(), err
}

// SendPart implements channels.PartSender. A reply outside the platform's
// 24-hour window is refused permanently: only approved templates cross it.
func (a *Adapter) SendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (channels.Receipt, error) {
	done := a.Begin(1)
	defer done()
	rc, err := a.sendPart(ctx, m, i)
	if err != nil {
		a.Failed(err)
		return channels.Receipt{}, err
	}
	a.Sent()
	return rc, nil
}

func (a *Adapter) sendPart(ctx context.Context, m *outboundv1.OutboundMessage, i int) (channels.Receipt, error) {
	o, err := a.plan(m)
	if err != nil {
		return channels.Receipt{}, err
	}
	if i < 0 || i >= o.parts() {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("part %d of a message of %d parts", i, o.parts()))
	}
	if o.template {
		return a.sendTemplate(ctx, o.user, m)
	}
	var id string
	if i < len(o.texts) {
		id, err = a.sendText(ctx, o.user, o.texts[i])
	} else {
		id, err = a.sendFile(ctx, o.user, o.files[i-len(o.texts)])
	}
	if err != nil {
		return channels.Receipt{}, classify(err)
	}
	return channels.Receipt{ExternalID: id}, nil
}

// sendTemplate sends m as an approved message template, which WhatsApp
// takes outside the 24-hour window too.
func (a *Adapter) sendTemplate(ctx context.Context, user string, m *outboundv1.OutboundMessage) (channels.Receipt, error) {
	t := m.GetTemplate()
	if a.kind != KindWhatsApp {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("%w: %s has no message templates", ErrTemplate, kindNames[a.kind]))
	}
	if len(m.GetAttachments()) > 0 {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("%w: a template reply carries no files", ErrTemplate))
	}
	tpl, ok := a.cfg.Template(t.GetName())
	if !ok {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("%w: %q is not among the channel's templates", ErrTemplate, t.GetName()))
	}
	if err := a.CheckTemplate(tpl); err != nil {
		return channels.Receipt{}, channels.Permanent(err)
	}
	args := TemplateArgs{Params: t.GetParams(), Named: t.GetNamedParams(), HeaderText: t.GetHeader().GetText(),
		HeaderLink: t.GetHeader().GetMediaLink(), HeaderID: t.GetHeader().GetMediaId(), HeaderFileName: t.GetHeader().GetFileName(),
		Buttons: t.GetButtonParams()}
	if _, err := tpl.Render(args); err != nil {
		return channels.Receipt{}, channels.Permanent(err)
	}
	body := map[string]any{"name": tpl.Name, "language": map[string]string{"code": tpl.Language}}
	if comps := tpl.components(args); len(comps) > 0 {
		body["components"] = comps
	}
	id, err := a.whatsApp(ctx, map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": user,
		"type": "template", "template": body})
	if err != nil {
		return channels.Receipt{}, classify(err)
	}
	return channels.Receipt{ExternalID: id}, nil
}

// Templates returns the channel's approved message templates.
func (a *Adapter) Templates() []Template { return a.cfg.Templates }

// classify marks the errors no retry mends as permanent.
func classify(err error) error {
	var ge *GraphError
	if errors.As(err, &ge) {
		if ge.outsideWindow() {
			return channels.Permanent(fmt.Errorf("%w: %v", ErrOutsideWindow, ge))
		}
		if !ge.Temporary() {
			return channels.Permanent(ge)
		}
	}
	return err
}

// TextLimit is the longest text one message of the platform takes:
// WhatsApp 4096 characters (Cloud API, text.body), Messenger 2000
// characters (Send API), Instagram 1000 bytes of UTF-8 (Instagram
// messaging, text). Longer replies go in several messages.
func TextLimit(kind string) split.Limit {
	switch kind {
	case KindWhatsApp:
		return split.Limit{Runes: 4096}
	case KindInstagram:
		return split.Limit{Bytes: 1000}
	}
	return split.Limit{Runes: 2000}
}

func (a *Adapter) sendText(ctx context.Context, user, text string) (string, error) {
	if a.kind == KindWhatsApp {
		return a.whatsApp(ctx, map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": user,
			"type": "text", "text": map[string]any{"preview_url": false, "body": text}})
	}
	return a.messenger(ctx, map[string]any{"recipient": map[string]string{"id": user}, "messaging_type": "RESPONSE",
		"message": map[string]string{"text": text}})
}

func (a *Adapter) whatsApp(ctx context.Context, body map[string]any) (string, error) {
	data, _ := json.Marshal(body)
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := a.graph(ctx, http.MethodPost, "/"+a.cfg.PhoneNumberID+"/messages", bytes.NewReader(data), "", &out); err != nil {
		return "", err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return "", errors.New("the Cloud API accepted the message but returned no id")
	}
	return out.Messages[0].ID, nil
}

func (a *Adapter) messenger(ctx context.Context, body map[string]any) (string, error) {
	data, _ := json.Marshal(body)
	var out struct {
		RecipientID string `json:"recipient_id"`
		MessageID   string `json:"message_id"`
	}
	if err := a.graph(ctx, http.MethodPost, "/"+a.cfg.PageID+"/messages", bytes.NewReader(data), "", &out); err != nil {
		return "", err
	}
	if out.MessageID == "" {
		return "", errors.New("the Send API accepted the message but returned no message_id")
	}
	return out.MessageID, nil
}

// waMediaType is the Cloud API message type for a file's media type.
func waMediaType(contentType string) string {
	ct, _, _ := strings.Cut(contentType, ";")
	switch {
	case ct == "image/jpeg" || ct == "image/png":
		return "image"
	case strings.HasPrefix(ct, "audio/"):
		return "audio"
	case ct == "video/mp4" || ct == "video/3gpp":
		return "video"
	}
	return "document"
}

// sendFile uploads a file and sends it: WhatsApp uploads to
// /{phone-number-id}/media then sends the media id; Messenger and
// Instagram take the file with the message (multipart "filedata").
func (a *Adapter) sendFile(ctx context.Context, user string, f *outboundv1.OutboundAttachment) (string, error) {
	if a.deps.Blobs == nil {
		return "", channels.Permanent(errors.New("no attachment store is configured"))
	}
	opener, ok := a.deps.Blobs.(interface {
		Open(sum string) (io.ReadCloser, error)
	})
	if !ok {
		return "", channels.Permanent(errors.New("the attachment store cannot be read"))
	}
	content, err := opener.Open(f.GetSha256())
	if err != nil {
		return "", fmt.Errorf("open %q: %w", f.GetFileName(), err)
	}
	defer content.Close()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	field := func(k, v string) { _ = w.WriteField(k, v) }
	fileField := "file"
	if a.kind == KindWhatsApp {
		field("messaging_product", "whatsapp")
		field("type", f.GetContentType())
	} else {
		fileField = "filedata"
		rcpt, _ := json.Marshal(map[string]string{"id": user})
		field("recipient", string(rcpt))
		field("messaging_type", "RESPONSE")
		typ := "file"
		if waMediaType(f.GetContentType()) == "image" {
			typ = "image"
		}
		msg, _ := json.Marshal(map[string]any{"attachment": map[string]any{"type": typ, "payload": map[string]bool{"is_reusable": false}}})
		field("message", string(msg))
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", multipart.FileContentDisposition(fileField, f.GetFileName()))
	h.Set("Content-Type", f.GetContentType())
	part, err := w.CreatePart(h)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(part, content); err != nil {
		return "", fmt.Errorf("read %q: %w", f.GetFileName(), err)
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if a.kind != KindWhatsApp {
		var out struct {
			MessageID string `json:"message_id"`
		}
		if err := a.graph(ctx, http.MethodPost, "/"+a.cfg.PageID+"/messages", &buf, w.FormDataContentType(), &out); err != nil {
			return "", err
		}
		return out.MessageID, nil
	}
	var up struct {
		ID string `json:"id"`
	}
	if err := a.graph(ctx, http.MethodPost, "/"+a.cfg.PhoneNumberID+"/media", &buf, w.FormDataContentType(), &up); err != nil {
		return "", err
	}
	typ := waMediaType(f.GetContentType())
	media := map[string]any{"id": up.ID}
	if typ == "document" {
		media["filename"] = f.GetFileName()
	}
	return a.whatsApp(ctx, map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": user, "type": typ, typ: media})
}
