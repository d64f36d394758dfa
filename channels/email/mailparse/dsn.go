package mailparse

import (
	"bufio"
	"bytes"
	"github.com/sportello/sportello/channels/clip"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// DSN is a delivery status notification (RFC 3464): the report an MTA
// sends back when it could not deliver (or delayed, or relayed) a message.
// Sportello uses it to mark its own outbound message as failed.
type DSN struct {
	ReportingMTA string // "dns; mx.example.org"
	// OriginalMessageID is the Message-ID of the message the report is
	// about (without angle brackets), from the returned message or its
	// headers; "" when the report does not include them.
	OriginalMessageID  string
	OriginalEnvelopeID string
	Recipients         []DSNRecipient
}

// DSNRecipient is the report on one recipient.
type DSNRecipient struct {
	FinalRecipient    string // the address, without its "rfc822;" type
	OriginalRecipient string
	Action            string // failed, delayed, delivered, relayed, expanded
	Status            string // the enhanced status code, "5.1.1"
	DiagnosticCode    string // the remote server's reply, "smtp; 550 5.1.1 ..."
	RemoteMTA         string
}

// Failed are the recipients the message could not be delivered to.
func (d *DSN) Failed() []DSNRecipient {
	var out []DSNRecipient
	for _, r := range d.Recipients {
		if r.Action == "failed" {
			out = append(out, r)
		}
	}
	return out
}

// maxStatusBytes caps the delivery-status part read into memory: a real
// one is a few hundred bytes per recipient.
const maxStatusBytes = 64 << 10

// maxDSNRecipients caps the recipients kept from one report.
const maxDSNRecipients = 100

// parseDeliveryStatus reads the body of a message/delivery-status part:
// a block of per-message fields, then one block per recipient, each
// formatted like a header (RFC 3464 §2.1). Malformed blocks are skipped.
func parseDeliveryStatus(body []byte) *DSN {
	d := &DSN{}
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	for i, block := range bytes.Split(body, []byte("\n\n")) {
		block = bytes.TrimLeft(block, "\n")
		if len(bytes.TrimSpace(block)) == 0 {
			continue
		}
		// ReadHeader returns the fields before a malformed line; that is
		// the best a broken report offers.
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(block, '\n', '\n'))))
		if i == 0 || (!h.Has("Final-Recipient") && !h.Has("Original-Recipient")) {
			if v := h.Get("Reporting-Mta"); v != "" {
				d.ReportingMTA = clean(v, 256)
			}
			if v := h.Get("Original-Envelope-Id"); v != "" {
				d.OriginalEnvelopeID = clean(v, 256)
			}
			continue
		}
		if len(d.Recipients) == maxDSNRecipients {
			continue
		}
		d.Recipients = append(d.Recipients, DSNRecipient{
			FinalRecipient:    typedAddress(h.Get("Final-Recipient")),
			OriginalRecipient: typedAddress(h.Get("Original-Recipient")),
			Action:            headerToken(h.Get("Action")),
			Status:            clip.Bytes(headerToken(h.Get("Status")), 16),
			DiagnosticCode:    clean(h.Get("Diagnostic-Code"), 1024),
			RemoteMTA:         clean(h.Get("Remote-Mta"), 256),
		})
	}
	return d
}

// typedAddress drops the address type of a DSN address field
// ("rfc822; user@example.org") and the angle brackets some MTAs add.
func typedAddress(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	return clean(v, 320)
}

// failedRecipientsDSN builds a report from an X-Failed-Recipients header,
// the only machine-readable part of the bounces Exim and some others send
// instead of a DSN.
func failedRecipientsDSN(v string, max int) *DSN {
	d := &DSN{}
	for _, a := range ParseAddressList(v, max).Addresses {
		d.Recipients = append(d.Recipients, DSNRecipient{FinalRecipient: a.Address, Action: "failed"})
	}
	return d
}
