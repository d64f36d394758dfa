// Package attachments stores the files of case messages: a content-addressed
// blob store on disk (identical bytes are kept once), the content-type check
// made by sniffing the bytes (never by the name or a declared type), and the
// sanitising of the file names citizens and staff give. It knows nothing of
// cases, storage or transports: services/cases decides who may upload what,
// services/storage keeps the metadata.
package attachments

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Attachment is the metadata of one uploaded file. Several attachments may
// share one blob (same SHA256).
type Attachment struct {
	ID          string // UUIDv7
	CaseID      string
	MessageID   string // "" until attached to a message
	SHA256      string // hex, lower case: the blob's name
	Size        int64  // bytes
	ContentType string // sniffed, with parameters ("text/plain; charset=utf-8")
	FileName    string // sanitised, see SanitizeFileName
	UploadedBy  string // principal subject
	CreatedAt   time.Time
}

// DefaultMaxSize is the default limit of one file: 25 MiB.
const DefaultMaxSize int64 = 25 << 20

// DefaultAllowed are the content types accepted unless configured otherwise:
// documents and images a citizen or an office sends. Archives (zip) are not
// in it: their content escapes the check, and an office can still allow them.
// HTML, SVG, scripts and executables are never safe to hand back to a
// browser, whatever the configuration.
var DefaultAllowed = []string{
	"application/pdf",
	"image/png", "image/jpeg", "image/gif", "image/webp",
	"text/plain", "text/csv",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document", // docx
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",       // xlsx
	"application/vnd.oasis.opendocument.text",                                 // odt
	"application/vnd.oasis.opendocument.spreadsheet",                          // ods
}

// neverAllowed are types that run in a browser or on a desktop when opened;
// Policy.Validate refuses to allow them.
var neverAllowed = []string{
	"text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript", "application/javascript",
	"application/x-msdownload", "application/vnd.microsoft.portable-executable", "application/x-executable",
	"application/x-elf", "application/x-mach-binary", "text/x-shellscript", "text/x-php", "text/x-python",
	"text/x-perl", "text/x-ruby", "text/x-lua", "text/x-tcl", "application/x-sh",
}

// Policy is what a blob store accepts.
type Policy struct {
	MaxSize int64    // bytes per file; 0 means DefaultMaxSize
	Allowed []string // media types without parameters; nil means DefaultAllowed
}

// Validate reports every problem of the policy at once.
func (p Policy) Validate() error {
	var errs []error
	if p.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("attachments.max_size %d: must not be negative", p.MaxSize))
	}
	for _, t := range p.Allowed {
		mt, params, err := mime.ParseMediaType(t)
		switch {
		case err != nil || len(params) > 0 || !strings.Contains(mt, "/"):
			errs = append(errs, fmt.Errorf("attachments.allowed_types: %q is not a media type such as application/pdf", t))
		case slices.Contains(neverAllowed, mt):
			errs = append(errs, fmt.Errorf("attachments.allowed_types: %s can run code when opened and cannot be allowed", mt))
		}
	}
	return errors.Join(errs...)
}

func (p Policy) maxSize() int64 {
	if p.MaxSize == 0 {
		return DefaultMaxSize
	}
	return p.MaxSize
}

func (p Policy) allowed() []string {
	if p.Allowed == nil {
		return DefaultAllowed
	}
	return p.Allowed
}

// allows reports whether the media type mt (no parameters) is accepted.
func (p Policy) allows(mt string) bool {
	return slices.ContainsFunc(p.allowed(), func(a string) bool { return strings.EqualFold(a, mt) }) && !slices.Contains(neverAllowed, mt)
}

// Errors of a refused upload. Their messages say what was wrong; wrapped
// errors add the detail (the detected type, the limit).
var (
	ErrTooLarge       = errors.New("file too large")
	ErrTypeNotAllowed = errors.New("file type not allowed")
	ErrEmpty          = errors.New("file is empty")
	// ErrIncomplete: reading the upload failed (the client went away, the
	// request was cancelled); nothing was stored.
	ErrIncomplete = errors.New("upload incomplete")
	ErrNotFound   = errors.New("attachment not found")
)

// Reasons of the ErrorInfo detail that tells API clients why an upload was
// refused.
const (
	ReasonTooLarge       = "ATTACHMENT_TOO_LARGE"
	ReasonTypeNotAllowed = "ATTACHMENT_TYPE_NOT_ALLOWED"
	ReasonEmpty          = "ATTACHMENT_EMPTY"
	// ErrorDomain is the ErrorInfo domain of those reasons.
	ErrorDomain = "sportello"
)

// Reason is the ErrorInfo reason of a refused upload's error, or "".
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, ErrTypeNotAllowed):
		return ReasonTypeNotAllowed
	case errors.Is(err, ErrEmpty):
		return ReasonEmpty
	}
	return ""
}

var sizeUnits = map[string]int64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}

// ParseSize reads a size in bytes written as a number or with a unit:
// 26214400, "25MiB", "25 MiB", "10MB".
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if err != nil || !ok || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with a unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return n * unit, nil
}
