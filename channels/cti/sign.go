package cti

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed request.
const (
	// TimestampHeader carries the Unix time in seconds the PBX signed at.
	TimestampHeader = "X-Sportello-Timestamp"
	// SignatureHeader carries "v1=" and the hex HMAC-SHA256, keyed with
	// the channel's secret, of the timestamp, a "." and the raw body.
	SignatureHeader = "X-Sportello-Signature"
)

// Window is how far a request's timestamp may be from the server's clock,
// either way.
const Window = 5 * time.Minute

// MinSecretBytes is the shortest secret accepted.
const MinSecretBytes = 32

// Sign returns the SignatureHeader value of body signed at ts: what a
// PBX computes.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Authentication failures; each is answered 401 with its message.
var (
	ErrNoSignature = errors.New("missing " + TimestampHeader + " or " + SignatureHeader + " header")
	ErrBadSig      = errors.New("signature does not match: sign \"<timestamp>.<raw body>\" with HMAC-SHA256 and the channel's secret")
	ErrStale       = errors.New("stale timestamp")
	ErrReplayed    = errors.New("replayed request: this signature was already accepted; sign a retry with a fresh timestamp")
)

// verify checks the headers against body at now and returns the signed
// timestamp and the signature's MAC (the replay key).
func verify(secret []byte, tsHeader, sigHeader string, body []byte, now time.Time) (time.Time, string, error) {
	if tsHeader == "" || sigHeader == "" {
		return time.Time{}, "", ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil || ts <= 0 || len(tsHeader) > 12 {
		return time.Time{}, "", fmt.Errorf("%w: %s must be Unix seconds", ErrStale, TimestampHeader)
	}
	// Several "v1=" values may be sent while a secret is rotated.
	want := Sign(secret, ts, body)
	ok := false
	var mac string
	for _, v := range strings.Split(sigHeader, ",") {
		v = strings.TrimSpace(v)
		if hmac.Equal([]byte(v), []byte(want)) {
			ok, mac = true, strings.TrimPrefix(v, "v1=")
		}
	}
	if !ok {
		return time.Time{}, "", ErrBadSig
	}
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > Window || d < -Window {
		return time.Time{}, "", fmt.Errorf("%w: %s is %s from the server's clock, more than the %s allowed; check the PBX's clock (NTP)",
			ErrStale, TimestampHeader, d.Round(time.Second).Abs(), Window)
	}
	return at, mac, nil
}
