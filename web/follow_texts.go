package web

import "maps"

// followTexts are the strings of the follow pages (/follow).
var followTexts = map[string]map[string]string{
	"it": {
		"follow.title":       "Segui la tua richiesta",
		"follow.intro":       "Hai inviato una richiesta senza accedere? Indica il numero di pratica che hai ricevuto e l'indirizzo e-mail che hai usato: ti invieremo un link per vederne lo stato e i messaggi e per rispondere, senza SPID o CIE.",
		"follow.reference":   "Numero di pratica",
		"follow.refHint":     "Per esempio 2026-000123: è nella pagina di conferma e nell'e-mail di ricevuta.",
		"follow.email":       "Indirizzo e-mail usato nella richiesta",
		"follow.submit":      "Inviami il link",
		"follow.sent":        "Se esiste una richiesta con questo numero e questo indirizzo e-mail, ti abbiamo inviato un link per seguirla. Controlla la posta (anche nella cartella dello spam). Il link vale 7 giorni; se ne chiedi un altro, quello precedente smette di funzionare.",
		"follow.limited":     "Hai fatto troppe richieste in poco tempo. Riprova tra un'ora.",
		"follow.invalidForm": "Indica il numero di pratica e un indirizzo e-mail.",
		"follow.invalid":     "Il link non è valido o è scaduto. Puoi chiederne uno nuovo.",
		"follow.again":       "Chiedi un nuovo link",
		"follow.validUntil":  "Link valido fino al",
		"follow.signInHint":  "Con SPID o CIE puoi vedere tutte le tue richieste nella pagina «Le mie richieste».",
		"follow.automatic":   "Messaggio automatico",
	},
	"en": {
		"follow.title":       "Follow your request",
		"follow.intro":       "Did you send a request without signing in? Enter the case number you received and the e-mail address you used: we will send you a link to see its status and messages and to reply, without SPID or CIE.",
		"follow.reference":   "Case number",
		"follow.refHint":     "For example 2026-000123: it is on the confirmation page and in the receipt e-mail.",
		"follow.email":       "E-mail address used in the request",
		"follow.submit":      "Send me the link",
		"follow.sent":        "If a request with this number and this e-mail address exists, we have sent you a link to follow it. Check your mail (including the spam folder). The link is valid for 7 days; asking for another one cancels the previous one.",
		"follow.limited":     "Too many requests in a short time. Try again in an hour.",
		"follow.invalidForm": "Enter the case number and an e-mail address.",
		"follow.invalid":     "The link is not valid or has expired. You can ask for a new one.",
		"follow.again":       "Ask for a new link",
		"follow.validUntil":  "Link valid until",
		"follow.signInHint":  "With SPID or CIE you can see all your requests on the “My requests” page.",
		"follow.automatic":   "Automatic message",
	},
}

// followT is the page's texts: the site's and the follow pages'.
func followT(lang string) map[string]string {
	t := maps.Clone(texts[lang])
	maps.Copy(t, followTexts[lang])
	return t
}
