// Package follow lets a citizen who wrote without logging in follow one
// case: they give the case's reference and the e-mail address they wrote
// from, and if both match, a link is sent to that address through the
// e-mail channel's outbound path (an automatic outbound message on the
// case). The link's token is a bearer credential for a narrow principal
// (auth.Principal.Case): the citizen's view of that one case and replies on
// it, nothing else. The answer to a request never says whether the case
// exists; requests are counted per address and per client in the database,
// so every replica enforces the same limits.
package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/auth"
	"github.com/sportello/sportello/services/cases"
)

// LinkKind is the Kind of the message that carries a follow link; the
// CaseService masks the token in it (cases.FollowLinkKind).
const LinkKind = cases.FollowLinkKind

// DefaultTTL is how long a link stays valid.
const DefaultTTL = 7 * 24 * time.Hour

// Default limits of link requests per hour.
const (
	DefaultPerAddress = 3
	DefaultPerClient  = 20
)

// window is the period the limits count requests in.
const window = time.Hour

// ErrRateLimited means too many requests came from the address or client.
var ErrRateLimited = errors.New("too many requests for a follow link; try again later")

// ErrInvalidToken means the link is unknown, revoked or expired.
var ErrInvalidToken = errors.New("unknown, revoked or expired follow link")

// Link is a stored follow link.
type Link struct {
	TokenHash string
	CaseID    string
	MessageID string
	CreatedAt time.Time
	ExpiresAt time.Time
	// ContactName is the case's citizen as the contact record names them
	// (read by FollowLink; the author of the holder's replies).
	ContactName string
}

// Store keeps links and request counts. services/storage implements it.
type Store interface {
	// FollowTarget returns the case with reference ref and its contact's
	// e-mail address; cases.ErrNotFound when there is none.
	FollowTarget(ctx context.Context, ref string) (cases.Case, string, error)
	// CreateFollowLink revokes the case's other links and stores l with
	// the message m that carries it (and fn's events), in one transaction.
	CreateFollowLink(ctx context.Context, l Link, m cases.Message, fn cases.Mutation) error
	// FollowLink returns the unrevoked link whose token hashes to hash,
	// valid at now; ErrInvalidToken otherwise.
	FollowLink(ctx context.Context, hash string, now time.Time) (Link, error)
	// CountFollowRequest adds one to bucket's count in the window starting
	// at start and returns the new count.
	CountFollowRequest(ctx context.Context, bucket string, start time.Time) (int, error)
}

// Service answers link requests and authenticates links.
type Service struct {
	Store Store
	// BaseURL is the public address of the web pages.
	BaseURL string
	// Mailbox is the e-mail channel id links are sent from; "" sends none.
	Mailbox string
	TTL     time.Duration
	// PerAddress and PerClient bound the requests per hour for one e-mail
	// address and one client IP address.
	PerAddress, PerClient int
	Now                   func() time.Time
	Log                   *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// NormalizeEmail is how addresses are compared: trimmed, lower case.
func NormalizeEmail(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// Request sends a link to the case with reference ref if address is its
// contact's e-mail address. It returns nil whether or not it sent one
// (the caller must not tell), ErrRateLimited when address or client made
// too many requests, or a store error.
func (s *Service) Request(ctx context.Context, ref, address, client string) error {
	address, ref = NormalizeEmail(address), strings.TrimSpace(ref)
	start := s.now().UTC().Truncate(window)
	perAddress, perClient := s.PerAddress, s.PerClient
	if perAddress <= 0 {
		perAddress = DefaultPerAddress
	}
	if perClient <= 0 {
		perClient = DefaultPerClient
	}
	// Both counts go up on every request, found or not, so they say
	// nothing about the case.
	n, err := s.Store.CountFollowRequest(ctx, "ip:"+client, start)
	if err != nil {
		return err
	}
	if n > perClient {
		return ErrRateLimited
	}
	if address == "" || ref == "" {
		return nil
	}
	if n, err = s.Store.CountFollowRequest(ctx, "email:"+HashToken(address), start); err != nil {
		return err
	}
	if n > perAddress {
		return ErrRateLimited
	}
	c, mail, err := s.Store.FollowTarget(ctx, ref)
	if errors.Is(err, cases.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if NormalizeEmail(mail) != address || c.MergedInto != "" {
		return nil
	}
	if s.Mailbox == "" {
		s.Log.WarnContext(ctx, "follow: no mailbox to send links from (web.reply_mailbox)", "case_id", c.ID)
		return nil
	}
	return s.send(ctx, c)
}

// send stores a new link for c (revoking the older ones) with the message
// that carries it; the e-mail channel's replier sends it.
func (s *Service) send(ctx context.Context, c cases.Case) error {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	now := s.now().UTC()
	token := NewToken()
	l := Link{TokenHash: HashToken(token), CaseID: c.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	m := cases.Message{ID: uuid.Must(uuid.NewV7()).String(), Direction: cases.Outbound, AuthorName: "Sportello", Kind: LinkKind,
		ChannelKind: "email", ChannelID: s.Mailbox}
	l.MessageID = m.ID
	m.Body = LinkText(c, strings.TrimRight(s.BaseURL, "/"), token, l.ExpiresAt)
	err := s.Store.CreateFollowLink(ctx, l, m, func(*cases.Case) ([]cases.Event, error) {
		return []cases.Event{{Type: cases.EventMessageAdded, Actor: cases.SystemActor, Changes: map[string]cases.Change{
			"message": {After: m.ID}, "direction": {After: string(cases.Outbound)}, "kind": {After: LinkKind}}}}, nil
	})
	if err != nil {
		return fmt.Errorf("follow link for case %s: %w", c.ID, err)
	}
	return nil
}

// LinkText is the message carrying a link, in the case's language.
func LinkText(c cases.Case, base, token string, expires time.Time) string {
	link := base + "/follow/" + token
	if c.Language == "en" {
		return "Hello,\n\nyou asked to follow your request " + c.Reference + ". This link shows its status and the messages, and lets you reply:\n\n" +
			link + "?lang=en\n\nThe link is valid until " + expires.In(rome).Format("2 January 2006, 15:04") +
			"; asking for a new one cancels it. Do not forward it: whoever has it can read and reply to your request.\n" +
			"If you did not ask for it, ignore this message.\n"
	}
	return "Gentile cittadina, gentile cittadino,\n\nha chiesto di seguire la sua richiesta " + c.Reference + ". Con questo link ne vede lo stato e i messaggi e può rispondere:\n\n" +
		link + "\n\nIl link vale fino al " + expires.In(rome).Format("02/01/2006 15:04") +
		"; se ne chiede uno nuovo, questo smette di funzionare. Non lo inoltri: chi lo ha può leggere la richiesta e rispondere.\n" +
		"Se non l'ha chiesto lei, ignori questo messaggio.\n"
}

var rome = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	return time.UTC
}()

// Authenticate implements auth.Authenticator for follow tokens: the
// principal may read and reply on the link's case only (auth.Principal.Case,
// scopes cases:read and cases:write). Other tokens are ErrUnauthenticated
// without a lookup.
func (s *Service) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	hash, ok := ParseToken(token)
	if !ok {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	l, err := s.Store.FollowLink(ctx, hash, s.now())
	if errors.Is(err, ErrInvalidToken) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("%w: follow link: %v", auth.ErrUnavailable, err)
	}
	p := auth.FollowPrincipal(l.CaseID)
	p.Name = l.ContactName
	return p, nil
}

// Open returns the valid link of token; ErrInvalidToken when it is
// malformed, unknown, revoked or expired.
func (s *Service) Open(ctx context.Context, token string) (Link, error) {
	hash, ok := ParseToken(token)
	if !ok {
		return Link{}, ErrInvalidToken
	}
	return s.Store.FollowLink(ctx, hash, s.now())
}

// Ack is what the acknowledgement of a web-form request says.
type Ack struct {
	Language  string // "en" for English, Italian otherwise
	Name      string // the citizen's name, "" when unknown
	Reference string
	Subject   string
	// FirstResponseDue is when an answer is due by the SLA; zero when
	// there is no target.
	FirstResponseDue time.Time
	// Link is the follow link (base + "/follow/" + token), as the /follow
	// form sends it.
	Link    string
	Expires time.Time
}

// AckText is the acknowledgement of a request made with the web form: the
// reference, when to expect an answer and the follow link, in Italian or
// in English.
func AckText(a Ack) string {
	var b strings.Builder
	if a.Language == "en" {
		if a.Name != "" {
			b.WriteString("Dear " + a.Name + ",\n\n")
		} else {
			b.WriteString("Dear citizen,\n\n")
		}
		b.WriteString("we have received your request \"" + a.Subject + "\" and registered it as case " + a.Reference + ".\n")
		if !a.FirstResponseDue.IsZero() {
			b.WriteString("You can expect a first answer by " + a.FirstResponseDue.In(rome).Format("2 January 2006, 15:04") + ".\n")
		} else {
			b.WriteString("We will answer as soon as possible.\n")
		}
		b.WriteString("\nThis link shows the status of your request and its messages, and lets you reply:\n\n" + a.Link + "?lang=en\n\n" +
			"The link is valid until " + a.Expires.In(rome).Format("2 January 2006, 15:04") + "; you can ask for a new one at any time on the follow page with the case number and your e-mail address. " +
			"Do not forward it: whoever has it can read and reply to your request.\n\nThis is an automatic message.\n")
		return b.String()
	}
	if a.Name != "" {
		b.WriteString("Gentile " + a.Name + ",\n\n")
	} else {
		b.WriteString("Gentile cittadina, gentile cittadino,\n\n")
	}
	b.WriteString("abbiamo ricevuto la sua richiesta \"" + a.Subject + "\" e le abbiamo assegnato il numero di pratica " + a.Reference + ".\n")
	if !a.FirstResponseDue.IsZero() {
		b.WriteString("Può attendersi una prima risposta entro il " + a.FirstResponseDue.In(rome).Format("02/01/2006 15:04") + ".\n")
	} else {
		b.WriteString("Le risponderemo al più presto.\n")
	}
	b.WriteString("\nCon questo link vede lo stato della richiesta e i messaggi e può rispondere:\n\n" + a.Link + "\n\n" +
		"Il link vale fino al " + a.Expires.In(rome).Format("02/01/2006 15:04") + "; può chiederne uno nuovo in ogni momento dalla pagina \"Segui la tua richiesta\" con il numero di pratica e il suo indirizzo e-mail. " +
		"Non lo inoltri: chi lo ha può leggere la richiesta e rispondere.\n\nQuesto è un messaggio automatico.\n")
	return b.String()
}
