package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// sharedKeyFile is one OP key for the tests that do not test the key
// file itself: RSA generation is the slow part of a provider's start.
var sharedKeyFile = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "devidp-key-")
	if err != nil {
		return "", err
	}
	sharedKeyDir = dir
	path := filepath.Join(dir, "devidp.pem")
	_, err = loadOrCreateKey(path)
	return path, err
})

var sharedKeyDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedKeyDir != "" {
		_ = os.RemoveAll(sharedKeyDir)
	}
	os.Exit(code)
}

func keyFile(t *testing.T) string {
	t.Helper()
	p, err := sharedKeyFile()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clock is a settable test clock.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// opServer is a running provider at <httptest URL>/dev-idp.
type opServer struct {
	srv    *httptest.Server
	op     *Provider
	clock  *clock
	issuer string
}

// startOP starts a provider whose config is completed by edit (which
// gets the issuer, to build clients against the same server if needed).
func startOP(t *testing.T, edit func(cfg *Config)) *opServer {
	t.Helper()
	s := &opServer{clock: &clock{}}
	mux := http.NewServeMux()
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.issuer = s.srv.URL + "/dev-idp"
	cfg := Config{
		Issuer:     s.issuer,
		KeyFile:    keyFile(t),
		Identities: DefaultIdentities([]string{"statistics", "communication", "it"}),
		Now:        s.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	op, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.op = op
	mux.Handle(op.Path()+"/", op.Handler())
	return s
}

// browser is a user agent with cookies that does not follow redirects,
// so the test sees where the OP sends it.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, c, req)
}

var (
	hiddenRequestID = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	hiddenFormToken = regexp.MustCompile(`name="form_token" value="([^"]+)"`)
	hiddenIdentity  = regexp.MustCompile(`name="identity" value="([^"]+)"`)
	formActionRe    = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// pickerForm is what the picker page offers.
type pickerForm struct {
	action     string
	requestID  string
	formToken  string
	identities []string
}

func parsePicker(t *testing.T, page *http.Response, body string) pickerForm {
	t.Helper()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("picker: %d %.300s", page.StatusCode, body)
	}
	a, r, f := formActionRe.FindStringSubmatch(body), hiddenRequestID.FindStringSubmatch(body), hiddenFormToken.FindStringSubmatch(body)
	if a == nil || r == nil || f == nil {
		t.Fatalf("no picker form: %.500s", body)
	}
	action, err := page.Request.URL.Parse(a[1])
	if err != nil {
		t.Fatal(err)
	}
	pf := pickerForm{action: action.String(), requestID: r[1], formToken: f[1]}
	for _, m := range hiddenIdentity.FindAllStringSubmatch(body, -1) {
		pf.identities = append(pf.identities, m[1])
	}
	return pf
}

func (pf pickerForm) values(identity string) url.Values {
	return url.Values{"request_id": {pf.requestID}, "form_token": {pf.formToken}, "identity": {identity}}
}

// login runs the picker as a browser: GET authURL, pick identity, and
// return the OP's redirect.
func login(t *testing.T, c *http.Client, authURL, identity string) *url.URL {
	t.Helper()
	page, body := get(t, c, authURL)
	pf := parsePicker(t, page, body)
	resp, body := postForm(t, c, pf.action, pf.values(identity), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pick %s: %d %.300s", identity, resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// rpKeys are a hand-made SPID client's keys, generated once.
var rpKeys = sync.OnceValues(func() ([3]*rsa.PrivateKey, error) {
	var out [3]*rsa.PrivateKey
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return out, err
		}
		out[i] = k
	}
	return out, nil
})

// spidClient plays an RP of the SPID profile by hand, to send the OP what
// auth/spid never would.
type spidClient struct {
	id, redirect string
	sig, enc     *rsa.PrivateKey
	other        *rsa.PrivateKey // not registered
}

func newSPIDClient(t *testing.T) *spidClient {
	t.Helper()
	k, err := rpKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &spidClient{id: "https://rp.example.it", redirect: "https://rp.example.it/spid/callback", sig: k[0], enc: k[1], other: k[2]}
}

func (c *spidClient) client() Client {
	return Client{
		ID: c.id, Profile: ProfileSPID, RedirectURIs: []string{c.redirect},
		JWKS: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &c.sig.PublicKey, KeyID: "rp-sig", Use: "sig", Algorithm: "RS256"},
			{Key: &c.enc.PublicKey, KeyID: "rp-enc", Use: "enc"},
		}},
	}
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jwtPayload decodes a JWS's payload without verifying it.
func jwtPayload(t *testing.T, raw string) []byte {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %.40s", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unsignedJWT is a JWT with alg none.
func unsignedJWT(claims any) string {
	payload, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + "."
}

// hmacJWT is signed with HS256 under the RP's kid.
func hmacJWT(t *testing.T, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: make([]byte, 32), KeyID: "rp-sig"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}
