package mailparse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/clip"
	"io"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8 and ASCII for message.New
	"github.com/emersion/go-message/textproto"

	"github.com/sportello/sportello/services/attachments"
)

// Parse reads one raw message from r. Attachment bodies are streamed to
// sink (nil: HashSink, nothing stored). Whatever the message holds, Parse
// returns a Message: what a limit or a malformed part kept it from reading
// is in Problems (and Truncated). It returns an error only when r fails
// (ErrUnreadable) or ctx is cancelled; Limits.ParseTimeout expiring is a
// limit like the others.
//
// Parse holds in memory one header block per nesting level (at most
// Limits.MaxHeaderBlockBytes each), a few small buffers and the text
// bodies (Limits.MaxTextBytes), however large the message or its
// attachments. It checks the deadline between reads: a Read of r that
// blocks forever is for the transport to time out (net.Conn deadlines).
func Parse(ctx context.Context, r io.Reader, lim Limits, sink BlobSink) (*Message, error) {
	lim = lim.withDefaults()
	if sink == nil {
		sink = HashSink{}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, lim.ParseTimeout, errParseTimeout)
	defer cancel()
	p := &parser{ctx: ctx, lim: lim, sink: sink, msg: &Message{}}
	p.src = &source{r: r, ctx: ctx, max: lim.MaxSize}

	h, b := p.readMessage(p.src, "", 0)
	if err := p.src.err; errors.Is(err, ErrUnreadable) {
		return nil, err
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errParseTimeout) {
		return nil, context.Cause(ctx)
	}
	p.finishMessage(h, b)
	return p.msg, nil
}

// parser is the state of one Parse call.
type parser struct {
	ctx  context.Context
	lim  Limits
	sink BlobSink
	src  *source
	msg  *Message

	parts       int
	partsOver   bool // MaxParts reached: later parts are counted, not read
	depthOver   bool
	decoded     int64
	decodedOver bool
	textUsed    int
	textOver    bool

	problems     []string
	moreProblems int
}

// body gathers what the parts of one message (the top one, or a forwarded
// one) contribute to it.
type body struct {
	plain, html []string
	dsn         *DSN
	returnedID  string // Message-ID in a text/rfc822-headers part
	mdn         bool
	forwards    []forward
}

type forward struct {
	name string // the file name the sender gave, "" when none
	msg  *Embedded
}

// stopped reports whether reading must stop altogether: the size or time
// limit, or a failing source.
func (p *parser) stopped() bool { return p.src.err != nil || p.ctx.Err() != nil }

// stopReason says, for a person, why an attachment was cut.
func (p *parser) stopReason() string {
	switch {
	case errors.Is(p.src.err, errTooLarge):
		return "the message size limit was reached"
	case p.ctx.Err() != nil && errors.Is(context.Cause(p.ctx), errParseTimeout), errors.Is(p.src.err, errParseTimeout):
		return "the parse time limit was reached"
	case p.decodedOver:
		return "the decoded size limit was reached"
	case p.src.err != nil:
		return "the message could not be read to the end"
	}
	return ""
}

// readMessage reads a message, header and body, from r: the top-level one
// (path "") or a forwarded one (at its part path).
func (p *parser) readMessage(r io.Reader, path string, depth int) (textproto.Header, *body) {
	b := &body{}
	br := bufio.NewReader(newMessageGuard(r, p, path))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		// The guard hands go-message only well-formed headers: this is
		// the source failing or a limit, which Parse reports.
		return h, b
	}
	p.entity(h, br, path, depth, true, b, "")
	return h, b
}

// entity reads one MIME entity. root is set for the entity that is a
// message's own body, whose leaf part number is path.1 (IMAP's numbering).
func (p *parser) entity(h textproto.Header, r io.Reader, path string, depth int, root bool, b *body, parent string) {
	if p.stopped() {
		return
	}
	p.parts++
	mt, params := p.contentType(h, path)
	leafPath := path
	if root {
		leafPath = joinPath(path, 1)
	}
	multi := strings.HasPrefix(mt, "multipart/")
	if p.parts > p.lim.MaxParts || p.decodedOver {
		// Over a limit: nothing more is read, but multiparts are still
		// walked, up to countParts, so that the problem can say how many
		// parts there are.
		p.partsOver = p.partsOver || p.parts > p.lim.MaxParts
		if multi && validBoundary(params["boundary"]) && p.parts < p.countParts() {
			p.multipart(h, r, path, depth, mt, params, b)
		}
		return
	}
	switch {
	case multi:
		p.multipart(h, r, path, depth, mt, params, b)
	case mt == "message/rfc822" || mt == "message/global":
		p.forwarded(h, r, leafPath, depth, mt, params, b)
	default:
		p.leaf(h, r, leafPath, mt, params, b, parent)
	}
}

// countParts is how far parts are counted past MaxParts: counting costs
// a pass over every nesting level, and "more than 10,000" says enough.
func (p *parser) countParts() int { return 10 * p.lim.MaxParts }

// validBoundary: RFC 2046 allows 1 to 70 characters; go-message's reader
// needs the delimiter to fit in its 4 KiB look-ahead, and real mail stays
// well within 200.
func validBoundary(b string) bool { return b != "" && len(b) <= 200 }

func (p *parser) multipart(h textproto.Header, r io.Reader, path string, depth int, mt string, params map[string]string, b *body) {
	if !validBoundary(params["boundary"]) {
		p.problem(fmt.Sprintf("%s is %s without a usable boundary; it was read as plain text", partName(path), mt))
		leafPath := path
		if path == "" {
			leafPath = "1"
		}
		p.text(h, r, leafPath, "text/plain", params, b)
		return
	}
	if depth >= p.lim.MaxDepth {
		p.depthOver = true
		return
	}
	boundary := params["boundary"]
	mr := textproto.NewMultipartReader(newMultipartGuard(r, boundary, p, path), boundary)
	sub := strings.TrimPrefix(mt, "multipart/")
	for i := 1; ; i++ {
		if p.stopped() || p.parts >= p.countParts() {
			return
		}
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if p.stopped() || p.decodedOver {
				return
			}
			if strings.Contains(err.Error(), "EOF") {
				p.problem(fmt.Sprintf("%s (%s) ends without its closing boundary", partName(path), mt))
			} else {
				p.problem(fmt.Sprintf("%s (%s) could not be read past its %s part: %s", partName(path), mt, ordinal(i-1), clip.Bytes(err.Error(), 120)))
			}
			return
		}
		p.entity(part.Header, part, joinPath(path, i), depth+1, false, b, sub)
	}
}

func partName(path string) string {
	if path == "" {
		return "the message"
	}
	return "part " + path
}

// skippedAlternatives are body formats offered next to text/plain and
// text/html that add nothing for an operator (and, for AMP, run scripts).
var skippedAlternatives = map[string]bool{
	"text/x-amp-html": true, "text/watch-html": true, "text/enriched": true, "text/richtext": true,
}

func isSignature(mt string) bool {
	switch mt {
	case "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature":
		return true
	}
	return false
}

func (p *parser) leaf(h textproto.Header, r io.Reader, path, mt string, params map[string]string, b *body, parent string) {
	disp, dparams := p.disposition(h, path)
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		data := p.readSmall(h, r, maxStatusBytes)
		if b.dsn == nil {
			b.dsn = parseDeliveryStatus(data)
		}
	case mt == "text/rfc822-headers" || mt == "text/global-headers":
		// The header of the message a report is about: only its id is
		// wanted.
		data := p.readSmall(h, r, p.lim.MaxHeaderBlockBytes)
		rh, _ := textproto.ReadHeader(bufio.NewReader(io.MultiReader(bytes.NewReader(data), strings.NewReader("\r\n\r\n"))))
		if ids, _ := msgIDs(rh.Get("Message-Id")); len(ids) > 0 {
			b.returnedID = ids[0]
		}
	case mt == "message/disposition-notification" || mt == "message/global-disposition-notification":
		b.mdn = true
	case parent == "signed" && isSignature(mt):
		// A detached signature of the other part: nothing an operator
		// reads, and no blob store would take it.
	case (mt == "text/plain" || mt == "text/html") && disp != "attachment" && name == "":
		p.text(h, r, path, mt, params, b)
	case parent == "alternative" && skippedAlternatives[mt]:
	default:
		p.attachment(h, r, path, mt, params, disp, name)
	}
}

// readSmall reads a part that is small by nature (a report), up to max
// bytes.
func (p *parser) readSmall(h textproto.Header, r io.Reader, max int) []byte {
	e, _ := message.New(message.Header{Header: h}, r)
	data, _ := io.ReadAll(io.LimitReader(&decodedReader{r: e.Body, p: p}, int64(max)))
	return data
}

// text reads a text/plain or text/html body part into b.
func (p *parser) text(h textproto.Header, r io.Reader, path, mt string, params map[string]string, b *body) {
	e, err := message.New(message.Header{Header: h}, r)
	unknownCharset := false
	switch {
	case message.IsUnknownEncoding(err):
		p.problem(fmt.Sprintf("part %s has the unknown transfer encoding %q; its text was read as it came", path, clean(h.Get("Content-Transfer-Encoding"), 40)))
	case message.IsUnknownCharset(err):
		unknownCharset = true
		p.problem(fmt.Sprintf("part %s declares the unknown charset %q; its text was read as UTF-8, or Windows-1252 where it is not UTF-8", path, clean(params["charset"], 40)))
	}
	budget := p.lim.MaxTextBytes - p.textUsed
	if budget <= 0 {
		p.textOver = true
		return
	}
	dr := &decodedReader{r: e.Body, p: p}
	data, err := io.ReadAll(io.LimitReader(dr, int64(budget)+1))
	if err != nil && !p.stopped() && !errors.Is(err, errDecodedLimit) {
		p.problem(fmt.Sprintf("part %s could not be decoded to the end (%s); the text before that was kept", path, clip.Bytes(err.Error(), 100)))
	}
	if len(data) > budget {
		data = data[:budget]
		p.textOver = true
	}
	p.textUsed += len(data)
	s, mislabelled := toUTF8(data, params["charset"], unknownCharset, mt)
	if mislabelled {
		p.problem(fmt.Sprintf("part %s is not in the charset it declares (%s); it was read as Windows-1252", path, clean(params["charset"], 40)))
	}
	s = cleanText(s)
	if mt == "text/html" {
		b.html = append(b.html, s)
		return
	}
	if strings.EqualFold(params["format"], "flowed") {
		s = unflow(s, strings.EqualFold(params["delsp"], "yes"))
	}
	b.plain = append(b.plain, s)
}

// attachment streams a part to the sink.
func (p *parser) attachment(h textproto.Header, r io.Reader, path, mt string, params map[string]string, disp, name string) {
	e, err := message.New(message.Header{Header: asSent(h, mt, params)}, r)
	if message.IsUnknownEncoding(err) {
		// Never guessed at, never decompressed: stored as it came.
		p.problem(fmt.Sprintf("part %s has the unknown transfer encoding %q; it was stored as it came", path, clean(h.Get("Content-Transfer-Encoding"), 40)))
	}
	if mt == "application/ms-tnef" || mt == "application/vnd.ms-tnef" {
		p.problem(fmt.Sprintf("part %s is an Outlook TNEF container (winmail.dat): the files and formatting inside it were not extracted", path))
	}
	cid := contentID(h)
	att := Attachment{
		Part:        path,
		FileName:    fileName(name, mt),
		ContentType: mt,
		ContentID:   cid,
		Inline:      strings.HasPrefix(mt, "image/") && (disp == "inline" || disp == "" && cid != ""),
	}
	p.store(&att, e.Body)
	p.msg.Attachments = append(p.msg.Attachments, att)
}

// asSent is the header to decode an attachment with: go-message converts
// every text/* body to UTF-8, but a file is stored as the sender sent it.
func asSent(h textproto.Header, mt string, params map[string]string) textproto.Header {
	if !strings.HasPrefix(mt, "text/") || params["charset"] == "" {
		return h
	}
	h = h.Copy()
	h.Set("Content-Type", mt)
	return h
}

// store streams body to the sink and records the outcome on att.
func (p *parser) store(att *Attachment, body io.Reader) {
	dr := &decodedReader{r: body, p: p}
	er := &errReader{r: dr}
	blob, err := p.sink.Put(p.ctx, er)
	if err == nil {
		att.SHA256, att.Size, att.StoredType = blob.SHA256, blob.Size, blob.ContentType
		return
	}
	switch {
	case p.stopped() || p.decodedOver:
		att.Error = "not stored: " + p.stopReason()
	case er.err != nil:
		att.Error = "not stored: its content could not be decoded"
		p.problem(fmt.Sprintf("part %s could not be decoded (%s); it was not stored", att.Part, clip.Bytes(er.err.Error(), 100)))
	default:
		// Refused by the store's policy: read the rest for its size.
		_, _ = io.Copy(io.Discard, er)
		att.Error = clip.Bytes(err.Error(), 300)
	}
	att.Size = dr.n
}

// errReader remembers the first error of r other than EOF: the sink may
// wrap it beyond recognition.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}

// errSinkDone closes the pipe to a sink that returned before the end.
var errSinkDone = errors.New("blob sink returned")

// forwarded reads a message/rfc822 part: stored whole as an attachment
// (the .eml file) and, at the same time, parsed, so that its attachments
// are stored too and its text is known (a PEC envelope's real content is
// the message inside it).
func (p *parser) forwarded(h textproto.Header, r io.Reader, path string, depth int, mt string, params map[string]string, b *body) {
	disp, dparams := p.disposition(h, path)
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if depth >= p.lim.MaxDepth {
		p.depthOver = true
		p.attachment(h, r, path, mt, params, disp, name)
		return
	}
	e, _ := message.New(message.Header{Header: asSent(h, mt, params)}, r)
	idx := len(p.msg.Attachments)
	p.msg.Attachments = append(p.msg.Attachments, Attachment{Part: path, ContentType: mt})

	type result struct {
		blob attachments.Blob
		err  error
	}
	done := make(chan result, 1)
	pr, pw := io.Pipe()
	go func() {
		blob, err := p.sink.Put(p.ctx, pr)
		pr.CloseWithError(errSinkDone) // a sink that stopped early must not block the parse
		done <- result{blob, err}
	}()
	// Nor may a sink that stops reading without returning, once the time
	// is up.
	stop := context.AfterFunc(p.ctx, func() { pr.CloseWithError(context.Cause(p.ctx)) })
	defer stop()
	dr := &decodedReader{r: e.Body, p: p}
	er := &errReader{r: dr}
	tee := &teeReader{r: er, w: pw}
	ih, ib := p.readMessage(tee, path, depth+1)
	if !p.stopped() {
		_, _ = io.Copy(io.Discard, tee) // the rest of the raw message, for the blob
	}
	if p.stopped() || p.decodedOver || er.err != nil {
		pw.CloseWithError(errors.New("incomplete"))
	} else {
		pw.Close()
	}
	res := <-done

	emb := p.embedded(ih, ib, path)
	b.forwards = append(b.forwards, forward{name: name, msg: emb})
	att := &p.msg.Attachments[idx]
	att.Message = emb
	att.FileName = fileName(name, mt)
	if name == "" && emb.Subject != "" {
		if n := attachments.SanitizeFileName(clip.Bytes(emb.Subject, 200) + ".eml"); n != "" {
			att.FileName = n
		}
	}
	att.Size = dr.n
	switch {
	case res.err == nil:
		att.SHA256, att.Size, att.StoredType = res.blob.SHA256, res.blob.Size, res.blob.ContentType
	case p.stopped() || p.decodedOver:
		att.Error = "not stored: " + p.stopReason()
	case er.err != nil:
		att.Error = "not stored: its content could not be decoded"
		p.problem(fmt.Sprintf("part %s could not be decoded (%s); it was not stored", path, clip.Bytes(er.err.Error(), 100)))
	default:
		att.Error = clip.Bytes(res.err.Error(), 300)
	}
}
