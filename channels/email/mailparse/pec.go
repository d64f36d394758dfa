package mailparse

import (
	"strings"

	"github.com/emersion/go-message/textproto"
)

// PEC describes a message of Italian certified e-mail (posta elettronica
// certificata): either a transport envelope, whose real content is the
// original message inside it (postacert.eml), or a receipt the PEC
// provider sends about a message (acceptance, delivery, failure).
//
// An envelope's From is the provider ("Per conto di: ..."
// <posta-certificata@...>): the citizen is Original.From (and the
// envelope's Reply-To). Message.TextBody, FullText and SanitizedHTML are
// the original's.
type PEC struct {
	// Transport is the X-Trasporto header: "posta-certificata" for a
	// certified message, "errore" for an ordinary message that reached a
	// PEC mailbox (the "anomalia" envelope).
	Transport string
	// Receipt is the X-Ricevuta header of a receipt: "accettazione",
	// "avvenuta-consegna", "non-accettazione", "errore-consegna",
	// "preavviso-errore-consegna", "presa-in-carico", "rilevazione-virus".
	Receipt string
	// RefMessageID is X-Riferimento-Message-ID: the message the receipt
	// or envelope is about, without angle brackets.
	RefMessageID string
	// Original is the message inside a transport envelope, nil for a
	// receipt or when the envelope holds none.
	Original *Embedded
}

// Failed reports whether a receipt says a message was not delivered.
func (p *PEC) Failed() bool {
	switch p.Receipt {
	case "non-accettazione", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus":
		return true
	}
	return false
}

// readPEC reads the PEC headers of a top-level message; nil when it is not
// one.
func readPEC(h textproto.Header, b *body) *PEC {
	transport, receipt := headerToken(h.Get("X-Trasporto")), headerToken(h.Get("X-Ricevuta"))
	if transport == "" && receipt == "" {
		return nil
	}
	pec := &PEC{Transport: transport, Receipt: receipt}
	if ids, _ := msgIDs(h.Get("X-Riferimento-Message-Id")); len(ids) > 0 {
		pec.RefMessageID = ids[0]
	}
	if transport != "" {
		// The envelope carries the original as postacert.eml (and, for a
		// certified message, the certificate daticert.xml).
		for _, f := range b.forwards {
			if strings.EqualFold(f.name, "postacert.eml") {
				pec.Original = f.msg
				break
			}
		}
		if pec.Original == nil && len(b.forwards) == 1 {
			pec.Original = b.forwards[0].msg
		}
	}
	return pec
}
