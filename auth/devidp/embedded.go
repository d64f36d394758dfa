package devidp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CheckEmbedded reports why the development OP must stay off, or nil when
// the server runs on its embedded defaults: it refuses a PostgreSQL
// database (a postgres:// or postgresql:// URL, or a key/value DSN with
// host=) and any configured issuer (staff SSO, SPID/CIE providers; empty
// ones are skipped) that is not an http(s) URL on loopback, which is
// where this OP lives. The server calls it before New and does not start
// the OP (nor, in the embedded default, itself) when it fails.
func CheckEmbedded(databaseDSN string, issuers ...string) error {
	var errs []error
	dsn := strings.ToLower(strings.TrimSpace(databaseDSN))
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || strings.Contains(dsn, "host=") {
		errs = append(errs, errors.New("devidp: a PostgreSQL database is configured: the development OP runs with the embedded SQLite only"))
	}
	for _, iss := range issuers {
		if iss == "" {
			continue
		}
		u, err := url.Parse(iss)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !loopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("devidp: issuer %q is not on loopback: the development OP does not run beside a real identity provider", iss))
		}
	}
	return errors.Join(errs...)
}
