package email

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// Poller reads the mailboxes that have an IMAP section, each in its own
// goroutine with its own backoff, so one broken mailbox never holds up the
// others. Messages are found by UID; a message is marked on the server
// (flagged \Seen and $Sportello, or moved) only after its contacts are
// durably stored, so a crash before that re-reads it, and its external id
// makes the second reading harmless.
type Poller struct {
	receiver *Receiver
	log      *slog.Logger
	// Backoff after a failed session: MinBackoff doubling up to
	// MaxBackoff; 1s and 5m when zero.
	MinBackoff, MaxBackoff time.Duration
	// Status, when set, is told each mailbox's state changes (tests).
	Status func(mailbox string, err error)
}

// ProcessedFlag is the keyword of messages Sportello stored.
const ProcessedFlag imap.Flag = "$Sportello"

// fetchBatch caps the messages handled in one pass before searching again.
const fetchBatch = 50

// NewPoller returns the poller of receiver's mailboxes.
func NewPoller(receiver *Receiver, log *slog.Logger) *Poller {
	return &Poller{receiver: receiver, log: log}
}

// Run polls every IMAP mailbox until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range p.receiver.cfg.Mailboxes {
		mb := &p.receiver.cfg.Mailboxes[i]
		if mb.IMAP == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.poll(ctx, mb)
		}()
	}
	wg.Wait()
}

// poll runs sessions on one mailbox, backing off after failures.
func (p *Poller) poll(ctx context.Context, mb *Mailbox) {
	lo, hi := p.MinBackoff, p.MaxBackoff
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	backoff := lo
	log := p.log.With("mailbox", mb.Name)
	for ctx.Err() == nil {
		started := time.Now()
		err := p.session(ctx, mb, log)
		if ctx.Err() != nil {
			return
		}
		if p.Status != nil {
			p.Status(mb.Name, err)
		}
		if time.Since(started) > 2*hi {
			backoff = lo // it worked for a good while: start over
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		log.Warn("email: imap session ended; will reconnect", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, hi)
	}
}

// session connects, logs in, and handles the folder until an error or ctx
// ends.
func (p *Poller) session(ctx context.Context, mb *Mailbox, log *slog.Logger) error {
	cfg := mb.IMAP
	wake := make(chan struct{}, 1)
	c, err := dialIMAP(ctx, cfg, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if err := login(c, cfg); err != nil {
		return err
	}
	folder := cfg.Folder
	if folder == "" {
		folder = "INBOX"
	}
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		return fmt.Errorf("select %s: %w", folder, err)
	}
	keyword := cfg.MoveTo == "" && slices.Contains(sel.PermanentFlags, imap.FlagWildcard)
	interval := time.Minute
	if cfg.PollInterval != "" {
		interval, _ = time.ParseDuration(cfg.PollInterval)
	}
	log.Info("email: imap mailbox open", "folder", folder, "messages", sel.NumMessages, "idle", c.Caps().Has(imap.CapIdle))
	if p.Status != nil {
		p.Status(mb.Name, nil)
	}
	for ctx.Err() == nil {
		n, err := p.pass(ctx, c, mb, keyword)
		if err != nil {
			return err
		}
		if n == fetchBatch {
			continue
		}
		if err := wait(ctx, c, wake, interval); err != nil {
			return err
		}
	}
	return nil
}

// pass stores up to fetchBatch unprocessed messages, oldest first, and
// returns how many it found.
func (p *Poller) pass(ctx context.Context, c *imapclient.Client, mb *Mailbox, keyword bool) (int, error) {
	criteria := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	switch {
	case mb.IMAP.MoveTo != "":
	case keyword:
		criteria.NotFlag = append(criteria.NotFlag, ProcessedFlag)
	default:
		criteria.NotFlag = append(criteria.NotFlag, imap.FlagSeen)
	}
	data, err := c.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	if len(uids) > fetchBatch {
		uids = uids[:fetchBatch]
	}
	for _, uid := range uids {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := p.one(ctx, c, mb, uid); err != nil {
			return 0, err
		}
		if err := markDone(c, mb, uid, keyword); err != nil {
			return 0, err
		}
	}
	return len(uids), nil
}

// one stores the message uid: the raw bytes as they stream in, then the
// parse and the contacts. Too big a message is not downloaded: its header
// makes a case with a note, and the message stays on the server.
func (p *Poller) one(ctx context.Context, c *imapclient.Client, mb *Mailbox, uid imap.UID) error {
	r := p.receiver
	size, err := messageSize(c, uid)
	if err != nil {
		return err
	}
	section := &imap.FetchItemBodySection{Peek: true}
	tooBig := size > r.limits.MaxSize
	if tooBig {
		section.Specifier = imap.PartSpecifierHeader
	}
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	defer cmd.Close()
	msg := cmd.Next()
	if msg == nil {
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("fetch %d: %w", uid, err)
		}
		return nil // expunged meanwhile
	}
	var stored bool
	var blobErr error
	var blob = struct {
		sha string
		n   int64
	}{}
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		if b, ok := item.(imapclient.FetchItemDataBodySection); ok && !stored {
			bl, err := r.StoreRaw(ctx, b.Literal)
			blobErr, stored = err, true
			blob.sha, blob.n = bl.SHA256, bl.Size
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("fetch %d: %w", uid, err)
	}
	if !stored {
		return fmt.Errorf("fetch %d: no body", uid)
	}
	if blobErr != nil {
		return fmt.Errorf("keep message %d: %w", uid, blobErr)
	}
	env := Envelope{Via: "imap", Remote: mb.IMAP.Host + " uid " + strconv.FormatUint(uint64(uid), 10)}
	raw := rawBlob(blob.sha, blob.n)
	if tooBig {
		return r.DeliverOversized(ctx, raw, size, []Target{{Mailbox: mb}}, env)
	}
	return r.Deliver(ctx, raw, []Target{{Mailbox: mb}}, env)
}

func messageSize(c *imapclient.Client, uid imap.UID) (int64, error) {
	bufs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return 0, fmt.Errorf("fetch size of %d: %w", uid, err)
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	return bufs[0].RFC822Size, nil
}

// markDone marks a stored message: moved, or flagged.
func markDone(c *imapclient.Client, mb *Mailbox, uid imap.UID, keyword bool) error {
	set := imap.UIDSetNum(uid)
	if mb.IMAP.MoveTo != "" {
		if _, err := c.Move(set, mb.IMAP.MoveTo).Wait(); err != nil {
			return fmt.Errorf("move %d to %s: %w", uid, mb.IMAP.MoveTo, err)
		}
		return nil
	}
	flags := []imap.Flag{imap.FlagSeen}
	if keyword {
		flags = append(flags, ProcessedFlag)
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close(); err != nil {
		return fmt.Errorf("flag %d: %w", uid, err)
	}
	return nil
}

// wait waits for new mail: IDLE until the server announces some (or
// interval passes), or a plain pause when the server has no IDLE.
func wait(ctx context.Context, c *imapclient.Client, wake chan struct{}, interval time.Duration) error {
	t := time.NewTimer(interval)
	defer t.Stop()
	if !c.Caps().Has(imap.CapIdle) {
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-wake:
		case <-c.Closed():
			return errors.New("connection closed")
		}
		return nil
	}
	idle, err := c.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	case <-c.Closed():
	}
	if err := idle.Close(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	return nil
}

// dialIMAP connects as cfg says.
func dialIMAP(ctx context.Context, cfg *IMAP, opts *imapclient.Options) (*imapclient.Client, error) {
	mode := cfg.TLS
	if mode == "" {
		mode = "tls"
	}
	port := cfg.Port
	if port == 0 {
		port = 143
		if mode == "tls" {
			port = 993
		}
	}
	tc, err := tlsConfig(cfg.Host, cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("imap ca_file: %w", err)
	}
	opts.TLSConfig = tc
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	var c *imapclient.Client
	switch mode {
	case "tls":
		c = imapclient.New(tlsClient(conn, tc), opts)
	case "starttls":
		if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls with %s: %w", addr, err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting of %s: %w", addr, err)
	}
	return c, nil
}

// login authenticates with the password, or with XOAUTH2 and the token.
func login(c *imapclient.Client, cfg *IMAP) error {
	if cfg.TokenFile != "" {
		tok, err := readSecret(cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("imap token: %w", err)
		}
		if err := c.Authenticate(xoauth2{user: cfg.Username, token: tok}); err != nil {
			return fmt.Errorf("imap XOAUTH2 as %s: %w", cfg.Username, err)
		}
		return nil
	}
	pw, err := readSecret(cfg.PasswordFile)
	if err != nil {
		return fmt.Errorf("imap password: %w", err)
	}
	if err := c.Login(cfg.Username, pw).Wait(); err != nil {
		return fmt.Errorf("imap login as %s: %w", cfg.Username, err)
	}
	return nil
}

// xoauth2 is the XOAUTH2 SASL mechanism of Gmail and Microsoft 365
// (go-sasl implements OAUTHBEARER only).
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge with an empty response, after
// which the server fails the command with its error.
func (x xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

var _ sasl.Client = xoauth2{}
