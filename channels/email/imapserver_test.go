package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// imapServer is a real IMAP server for a test: Debian's Dovecot when it is
// installed (configured by the test, run as a child process on a free
// port), else go-imap's in-memory server. Both offer STARTTLS with a
// certificate of the test's own CA.
type imapServer struct {
	kind   string // "dovecot" or "imapmemserver"
	host   string
	port   int
	caFile string
	dir    string
}

// users of every test server, with their passwords.
var imapUsers = map[string]string{"alice": "alice-secret", "bob": "bob-secret"}

// startIMAP starts a server with imapUsers.
func startIMAP(t *testing.T) *imapServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "sportello-imap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	certFile, keyFile, caFile := writeCert(t, dir)
	// SPORTELLO_TEST_IMAP=imapmemserver forces the fallback.
	if _, err := exec.LookPath("dovecot"); err == nil && os.Getenv("SPORTELLO_TEST_IMAP") != "imapmemserver" {
		return startDovecot(t, dir, certFile, keyFile, caFile)
	}
	t.Logf("dovecot is not installed (apt-get install dovecot-imapd), or SPORTELLO_TEST_IMAP=imapmemserver: using go-imap's imapmemserver")
	return startMemServer(t, certFile, keyFile, caFile)
}

// writeCert makes a CA and a certificate for 127.0.0.1 signed by it.
func writeCert(t *testing.T, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Sportello test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile, caFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", keyDER}, {caFile, "CERTIFICATE", caDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDovecot runs dovecot in the foreground with a configuration of its
// own: passwd-file users, maildirs under dir owned by the mail user,
// STARTTLS, IMAP on a free loopback port only.
func startDovecot(t *testing.T, dir, certFile, keyFile, caFile string) *imapServer {
	t.Helper()
	return startDovecotOAuth(t, dir, certFile, keyFile, caFile, "")
}

// startDovecotOAuth is startDovecot that, with introspection set, also
// accepts XOAUTH2 and OAUTHBEARER, checking tokens at that OAuth2 token
// introspection endpoint (RFC 7662), as a mail provider's server does.
func startDovecotOAuth(t *testing.T, dir, certFile, keyFile, caFile, introspection string) *imapServer {
	t.Helper()
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 { // dovecot gives no mail access as root
		uid, gid = 65534, 65534
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var passwd strings.Builder
	for u, pw := range imapUsers {
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s\n", u, pw)
	}
	mail := filepath.Join(dir, "mail")
	for _, d := range []string{mail, filepath.Join(dir, "run"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(mail, uid, gid); err != nil && os.Getuid() == 0 {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	oauthMechs, oauthPassdb := "", ""
	if introspection != "" {
		oauthMechs = " xoauth2 oauthbearer"
		oauthPassdb = fmt.Sprintf(`
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = %s/oauth2.conf
}`, dir)
		oauth := fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n", introspection)
		if err := os.WriteFile(filepath.Join(dir, "oauth2.conf"), []byte(oauth), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
ssl = yes
ssl_cert = <%[2]s
ssl_key = <%[3]s
disable_plaintext_auth = no
auth_mechanisms = plain login%[7]s
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}%[8]s
userdb {
  driver = static
  args = uid=%[5]d gid=%[6]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
`, dir, certFile, keyFile, port, uid, gid, oauthMechs, oauthPassdb)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dovecot", "-F", "-c", confFile)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	t.Cleanup(func() {
		_ = exec.Command("dovecot", "-c", confFile, "stop").Run()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	s := &imapServer{kind: "dovecot", host: "127.0.0.1", port: port, caFile: caFile, dir: dir}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(s.host, strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not listen on %d: %v\n%s", port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot log:\n%s", log)
		}
	})
	return s
}

func startMemServer(t *testing.T, certFile, keyFile, caFile string) *imapServer {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	mem := imapmemserver.New()
	for u, pw := range imapUsers {
		user := imapmemserver.NewUser(u, pw)
		_ = user.Create("INBOX", nil)
		mem.AddUser(user)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &imapServer{kind: "imapmemserver", host: "127.0.0.1", port: ln.Addr().(*net.TCPAddr).Port, caFile: caFile}
}

// config is the IMAP section that logs user in over STARTTLS.
func (s *imapServer) config(t *testing.T, user string) *IMAP {
	t.Helper()
	pw := filepath.Join(t.TempDir(), user+".password")
	if err := os.WriteFile(pw, []byte(imapUsers[user]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &IMAP{Host: s.host, Port: s.port, TLS: "starttls", Username: user, PasswordFile: pw, CAFile: s.caFile, PollInterval: "1m"}
}

// client is a test's own session as user.
func (s *imapServer) client(t *testing.T, user string) *imapclient.Client {
	t.Helper()
	cfg := s.config(t, user)
	c, err := dialIMAP(context.Background(), cfg, &imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := login(c, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *imapServer) appendMsg(t *testing.T, user, folder, msg string) {
	t.Helper()
	c := s.client(t, user)
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	cmd := c.Append(folder, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append: %v", err)
	}
	c.Close()
}

// flags returns the flags of every message of folder, by UID order.
func (s *imapServer) flags(t *testing.T, c *imapclient.Client, folder string) [][]imap.Flag {
	t.Helper()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	bufs, err := c.Fetch(imap.SeqSetNum(seqRange(sel.NumMessages)...), &imap.FetchOptions{Flags: true, UID: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]imap.Flag, len(bufs))
	for i, b := range bufs {
		out[i] = b.Flags
	}
	return out
}

func seqRange(n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}
