package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sportello/sportello/services/attachments"
)

// headerGuard sits between a raw MIME stream and go-message, and bounds
// every header block in it: go-message reads the header of the message
// with a size limit but the header of each part with none, and a header
// is held in memory whole (several copies of it, while parsing). The guard
// passes bodies through untouched and rewrites header blocks only to drop
// what is over a limit, field by field, so go-message still sees a well
// formed header:
//
//   - a field longer than MaxHeaderBytes is dropped whole;
//   - fields after the MaxHeaders-th, or past MaxHeaderBlockBytes in
//     total, are dropped;
//   - a line that is not a header field ends the header, as if the blank
//     line before it were there (a common mistake of hand-made mail; the
//     line then starts the body), and a folded line with no field to
//     continue is dropped.
//
// A guard on a message starts in its header. A guard on a multipart body
// (boundary set) starts in the preamble and enters a header after each
// delimiter line; nested multiparts get their own guard, reading from the
// body of their part, so each guard only needs its own boundary.
type headerGuard struct {
	src      *bufio.Reader
	boundary []byte // "--" + boundary; nil on a message
	p        *parser
	path     string // the multipart's or message's part path, for problems
	top      bool   // guarding a message (not a multipart body)

	out       []byte // what Read returns next
	pend      []byte // owned buffer behind out, when out is not src's
	inHeader  bool
	lineStart bool
	block     int // header blocks begun

	field     []byte
	inField   bool
	dropField bool
	firstLine bool // at the first line of a message: an mbox "From " line may be there

	kept, tooMany, tooLong, overBlock, orphans, blockBytes int
	endedAt                                                string // the non-field line that ended the header

	err error
}

// guardBufSize is the bufio size of a guard; a line longer than this is
// handled in pieces.
const guardBufSize = 8 << 10

func newMessageGuard(r io.Reader, p *parser, path string) *headerGuard {
	return &headerGuard{src: bufio.NewReaderSize(r, guardBufSize), p: p, path: path, top: true,
		inHeader: true, lineStart: true, block: 1, firstLine: true}
}

func newMultipartGuard(r io.Reader, boundary string, p *parser, path string) *headerGuard {
	return &headerGuard{src: bufio.NewReaderSize(r, guardBufSize), boundary: []byte("--" + boundary),
		p: p, path: path, lineStart: true}
}

// Read fills b with as many lines as it can without waiting for the
// source: go-message's multipart reader rescans its buffer on every
// refill, so handing it one short line at a time (a base64 line is 78
// bytes) would multiply its work by the lines in a buffer, at every
// nesting level.
func (g *headerGuard) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if len(g.out) > 0 {
			k := copy(b[n:], g.out)
			g.out = g.out[k:]
			n += k
			continue
		}
		switch {
		case g.err != nil && n == 0:
			return 0, g.err
		case g.err != nil:
			return n, nil
		case g.top && !g.inHeader && n == 0:
			// The rest of a message is its body: nothing more to guard.
			return g.src.Read(b)
		case g.top && !g.inHeader:
			return n, nil
		case n > 0 && !g.lineBuffered():
			return n, nil
		}
		g.pend = g.pend[:0]
		g.step()
	}
	return n, nil
}

// lineBuffered reports whether a whole line is buffered, so that the next
// step will not wait for the source.
func (g *headerGuard) lineBuffered() bool {
	buf, _ := g.src.Peek(g.src.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}

// step processes one line, or one piece of a long line.
func (g *headerGuard) step() {
	line, err := g.src.ReadSlice('\n')
	partial := errors.Is(err, bufio.ErrBufferFull)
	if err != nil && !partial {
		g.err = err
	}
	start := g.lineStart
	g.lineStart = !partial && len(line) > 0 && line[len(line)-1] == '\n'
	if len(line) > 0 {
		if g.inHeader {
			g.headerLine(line, start, partial)
		} else {
			g.bodyLine(line, start, partial)
		}
	}
	if g.err != nil && g.inHeader {
		// The stream ended inside a header: finish it, so that the
		// reader of the header sees a complete one.
		if len(g.out) > 0 { // a body line passed without a copy comes first
			g.pend = append(g.pend, g.out...)
			g.out = nil
		}
		g.flushField()
		g.endHeader()
		g.emit([]byte("\r\n"))
	}
	if len(g.pend) > 0 {
		g.out = g.pend
	}
}

func (g *headerGuard) emit(b []byte) { g.pend = append(g.pend, b...) }

func (g *headerGuard) bodyLine(line []byte, start, partial bool) {
	if len(g.pend) == 0 {
		g.out = line // the common case: no copy
	} else {
		g.emit(line)
	}
	if start && !partial && g.boundary != nil && g.isDelimiter(line) {
		g.inHeader = true
		g.block++
	}
}

// isDelimiter matches a boundary delimiter line ("--boundary", optional
// white space, the line end) as go-message's multipart reader does; the
// close delimiter ("--boundary--") is not one.
func (g *headerGuard) isDelimiter(line []byte) bool {
	if !bytes.HasPrefix(line, g.boundary) {
		return false
	}
	rest := bytes.TrimLeft(line[len(g.boundary):], " \t")
	return bytes.Equal(rest, []byte("\r\n")) || bytes.Equal(rest, []byte("\n"))
}

func (g *headerGuard) headerLine(line []byte, start, partial bool) {
	first := g.firstLine
	g.firstLine = false
	switch {
	case !start: // the next piece of a long line
		g.appendField(line)
	case isBlankLine(line):
		g.flushField()
		g.endHeader()
		g.emit(line)
	case line[0] == ' ' || line[0] == '\t':
		if !g.inField {
			// A folded line with nothing to continue (go-message refuses
			// a header that starts with one).
			g.orphans++
			g.inField, g.dropField = true, true
		}
		g.appendField(line)
	default:
		g.flushField()
		switch {
		case first && g.top && bytes.HasPrefix(line, []byte("From ")):
			// The "From sender date" line of an mbox file: not part of
			// the message.
			g.inField, g.dropField = true, true
		case isFieldStart(line):
			g.startField(line)
		default:
			g.endedAt = clean(string(line), 60)
			g.endHeader()
			g.emit([]byte("\r\n"))
			g.bodyLine(line, true, partial)
		}
	}
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// isFieldStart reports whether line begins a header field: a name of
// printable ASCII other than ":", optional white space, then ":".
func isFieldStart(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func (g *headerGuard) startField(line []byte) {
	g.inField, g.dropField = true, false
	g.field = g.field[:0]
	if g.kept >= g.p.lim.MaxHeaders {
		g.tooMany++
		g.dropField = true
		return
	}
	g.appendField(line)
}

func (g *headerGuard) appendField(b []byte) {
	if g.dropField {
		return
	}
	if len(g.field)+len(b) > g.p.lim.MaxHeaderBytes {
		g.tooLong++
		g.dropField = true
		g.field = g.field[:0]
		return
	}
	g.field = append(g.field, b...)
}

func (g *headerGuard) flushField() {
	if !g.inField {
		return
	}
	g.inField = false
	if g.dropField {
		return
	}
	if g.overBlock > 0 || g.blockBytes+len(g.field) > g.p.lim.MaxHeaderBlockBytes {
		g.overBlock++ // and every field after it, however small
		return
	}
	if g.field[len(g.field)-1] != '\n' {
		g.field = append(g.field, '\r', '\n')
	}
	g.blockBytes += len(g.field)
	g.kept++
	g.emit(g.field)
}

// endHeader leaves the header block, reporting what was dropped of it.
func (g *headerGuard) endHeader() {
	g.inHeader = false
	where := g.where()
	lim := g.p.lim
	if g.tooMany > 0 {
		g.p.truncated(fmt.Sprintf("%s has %s fields; the limit is %s: the fields after the %s were ignored",
			where, count(g.kept+g.tooMany+g.overBlock), count(lim.MaxHeaders), ordinal(lim.MaxHeaders)))
	}
	if g.tooLong > 0 {
		g.p.truncated(fmt.Sprintf("%s has %s longer than %s; %s ignored",
			where, plural(g.tooLong, "field"), attachments.FormatSize(int64(lim.MaxHeaderBytes)), itThey(g.tooLong)))
	}
	if g.overBlock > 0 {
		g.p.truncated(fmt.Sprintf("%s is larger than %s; the %s after that were ignored",
			where, attachments.FormatSize(int64(lim.MaxHeaderBlockBytes)), plural(g.overBlock, "field")))
	}
	if g.orphans > 0 {
		g.p.problem(fmt.Sprintf("%s has a folded line that continues no field; it was ignored", where))
	}
	if g.endedAt != "" {
		g.p.problem(fmt.Sprintf("%s ends without a blank line; the body was taken to start at %q", where, g.endedAt))
	}
	g.kept, g.tooMany, g.tooLong, g.overBlock, g.orphans, g.blockBytes, g.endedAt = 0, 0, 0, 0, 0, 0, ""
}

// where names the header block being read, for a person.
func (g *headerGuard) where() string {
	switch {
	case g.top && g.path == "":
		return "the message header"
	case g.top:
		return "the header of the message in part " + g.path
	}
	return "the header of part " + joinPath(g.path, g.block)
}

// joinPath is the path of the n-th child of the part at path.
func joinPath(path string, n int) string {
	if path == "" {
		return strconv.Itoa(n)
	}
	return path + "." + strconv.Itoa(n)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

func itThey(n int) string {
	if n == 1 {
		return "it was"
	}
	return "they were"
}
