package spid

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{
			ClientID:  "https://sportello.comune.example.it",
			Keys:      Keys{Signing: "s.pem", Encryption: "e.pem", Federation: "f.pem"},
			Providers: []Provider{{Name: "poste", Issuer: "https://posteid.poste.it"}},
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"plain http client id", func(c *Config) { c.ClientID = "http://sportello.example.it" }, []string{"spid.client_id", "want https"}},
		{"loopback http is fine", func(c *Config) { c.ClientID = "http://127.0.0.1:8080" }, nil},
		{"missing keys", func(c *Config) { c.Keys = Keys{} }, []string{"spid.keys", "spid-keygen"}},
		{"bad acr", func(c *Config) { c.ACR = "SpidL4" }, []string{"spid.acr"}},
		{"claims without fiscal number", func(c *Config) { c.Claims = []string{"email"} }, []string{"spid.claims"}},
		{"no providers", func(c *Config) { c.Providers = nil }, []string{"at least one OP"}},
		{"duplicate and bad names", func(c *Config) {
			c.Providers = append(c.Providers, Provider{Name: "poste", Issuer: "https://x.example.it"}, Provider{Name: "a b", Issuer: "https://y.example.it"})
		}, []string{`"poste": used twice`, `"a b"`}},
		{"partial explicit endpoints", func(c *Config) { c.Providers[0].AuthorizationEndpoint = "https://posteid.poste.it/auth" }, []string{"token_endpoint", "jwks_uri"}},
		{"HMAC algorithm", func(c *Config) { c.Providers[0].SigningAlgs = []string{"HS256"} }, []string{`"HS256" is not allowed`}},
		{"provider acr", func(c *Config) { c.Providers[0].ACR = "high" }, []string{"providers[0].acr"}},
		{"lifetime", func(c *Config) { c.Federation.Lifetime = "1s" }, []string{"lifetime"}},
		{"trust mark", func(c *Config) { c.Federation.TrustMarks = []TrustMark{{ID: "x"}} }, []string{"trust_marks[0]"}},
		{"relative login path", func(c *Config) { c.LoginPath = "login" }, []string{"login_path"}},
		{"all problems at once", func(c *Config) { c.ClientID = ""; c.Providers = nil; c.ACR = "x" }, []string{"client_id", "providers", "spid.acr"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestConfigYAML reads the section as the server's configuration file
// would, with unknown fields rejected.
func TestConfigYAML(t *testing.T) {
	const doc = `
client_id: https://sportello.comune.example.it
client_name: Sportello del Comune
keys:
  signing: /etc/sportello/spid-signing.pem
  encryption: /etc/sportello/spid-encryption.pem
  federation: /etc/sportello/spid-federation.pem
acr: SpidL2
providers:
  - name: cie
    issuer: https://preproduzione.oidc.idserver.servizicie.interno.gov.it
    acr: SpidL3
  - name: test
    issuer: https://op.example.it
    authorization_endpoint: https://op.example.it/auth
    token_endpoint: https://op.example.it/token
    userinfo_endpoint: https://op.example.it/userinfo
    revocation_endpoint: https://op.example.it/revoke
    jwks_uri: https://op.example.it/jwks
    signing_algs: [RS256]
federation:
  organization_name: Comune di Prova
  authority_hints: [https://registry.spid.gov.it]
  trust_marks:
    - id: https://registry.spid.gov.it/openid_relying_party/public
      trust_mark: eyJhbGciOiJSUzI1NiJ9.e30.c2ln
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if acr, _ := c.acr(c.Providers[0]); acr != SpidL3 {
		t.Errorf("cie acr %v", acr)
	}
	if c.redirectURI() != "https://sportello.comune.example.it/spid/callback" || c.Federation.TrustMarks[0].ID == "" {
		t.Errorf("config %+v", c)
	}
	bad := yaml.NewDecoder(strings.NewReader("client_id: x\nclient_secret: nope\n"))
	bad.KnownFields(true)
	if err := bad.Decode(&Config{}); err == nil {
		t.Error("unknown field client_secret accepted")
	}
}
