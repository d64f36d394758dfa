// Package email is the e-mail channel: an inbound SMTP/LMTP listener an MTA
// delivers to, an IMAP poller of one or more mailboxes, and the replier
// that sends operators' replies and acknowledgements by SMTP submission.
//
// Inbound, every message is kept exactly as received (a blob of the
// attachments store), parsed with mailparse (attachments streamed to the
// store), and mapped to one InboundContact per receiving mailbox: sender,
// subject, the text the citizen wrote, the Message-ID as external id (the
// SHA-256 of the raw message when it has none), thread keys (reference
// tag, In-Reply-To/References, and optionally same sender and subject),
// blob references, notes for whatever was not read in full, the receiving
// address for routing, a delivery report for bounces, and a request for an
// acknowledgement unless the message is automatic (RFC 3834) or ours. The
// source is told "received" (SMTP 250, IMAP flag or move) only once the
// Sink has stored every contact.
//
// The package imports channels, the protocol libraries and the blob store;
// it never touches the database or NATS.
package email
