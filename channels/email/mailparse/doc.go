// Package mailparse reads one raw RFC 5322 message, as a mail server hands
// it over, into what Sportello keeps of it: the threading headers, the
// addresses, the text the citizen actually wrote (quoted reply and
// signature trimmed), the full text, a sanitised copy of the HTML body, the
// attachments (streamed to a blob sink, never held in memory), whether the
// message is automatic (RFC 3834 loop protection) and, for a delivery
// status notification, which of our messages bounced and why.
//
// It is a pure library: it opens no connection, touches no storage other
// than the sink it is given, and keeps no state between calls. MIME,
// transfer encodings and charsets are decoded by emersion/go-message; HTML
// is sanitised by bluemonday.
//
// The input is hostile. Every dimension of it is bounded by Limits; a
// message over a limit is still parsed as far as the limit allows, and the
// Message says what was left out (Problems, Truncated). Parse returns an
// error only when the source itself fails: the caller keeps the raw message
// in every case, so nothing is lost when parsing is partial.
package mailparse
