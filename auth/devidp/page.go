package devidp

import (
	"bytes"
	"html/template"
	"net/http"
)

// pickerPage is the identity picker's data.
type pickerPage struct {
	Action     string
	RequestID  string
	FormToken  string
	Client     string
	Citizens   bool
	ACR        string
	Identities []Identity
}

// errorPage is shown when the request cannot go back to the client.
type errorPage struct {
	Code        string
	Description string
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>Sportello — accesso di sviluppo</title>
<style>
body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#17324d}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.6rem .9rem;border-radius:.3rem}
ul{list-style:none;padding:0}li{margin:.5rem 0}
button{width:100%;text-align:left;padding:.7rem 1rem;font-size:1rem;border:1px solid #0066cc;border-radius:.3rem;background:#fff;cursor:pointer}
button:hover,button:focus{background:#e6f0fa}
.meta{display:block;font-size:.85rem;color:#5c6f82;margin-top:.2rem}
.cancel{border-color:#a61919}
</style>
</head>
<body>
<p class="warn"><strong>Provider OpenID di sviluppo</strong> (development OP): nessuna password, solo identità di prova. Non usarlo in produzione.</p>
{{end}}

{{define "picker"}}{{template "head"}}
<h1>Scegli un'identità di prova</h1>
<p>Accesso richiesto da <code>{{.Client}}</code>{{if .ACR}}, livello <code>{{.ACR}}</code>{{end}}.</p>
<ul>
{{range .Identities}}<li>
<form method="post" action="{{$.Action}}">
<input type="hidden" name="request_id" value="{{$.RequestID}}">
<input type="hidden" name="form_token" value="{{$.FormToken}}">
<input type="hidden" name="identity" value="{{.ID}}">
<button type="submit">Entra come <strong>{{.Label}}</strong>
<span class="meta">{{if $.Citizens}}Codice fiscale {{.FiscalNumber}} · {{.Email}}{{else}}{{.ID}} · {{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{end}}{{end}}</span>
</button>
</form>
</li>
{{else}}<li>Nessuna identità di prova per questo tipo di client (no test identity for this client).</li>
{{end}}</ul>
<form method="post" action="{{.Action}}">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<input type="hidden" name="form_token" value="{{.FormToken}}">
<input type="hidden" name="cancel" value="1">
<button type="submit" class="cancel">Annulla (cancel)</button>
</form>
</body>
</html>
{{end}}

{{define "error"}}{{template "head"}}
<h1>Richiesta non valida</h1>
<p>Il provider di sviluppo ha rifiutato la richiesta (request refused): <code>{{.Code}}</code></p>
<p>{{.Description}}</p>
</body>
</html>
{{end}}
`))

// renderPage writes a page with headers that keep it out of frames and
// caches. form-action allows this OP and the origin of the client's
// redirect_uri, which browsers check on the redirect after the pick.
func (p *Provider) renderPage(w http.ResponseWriter, redirectURI string, status int, data any) {
	name := "error"
	if _, ok := data.(pickerPage); ok {
		name = "picker"
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "devidp: page rendering failed", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if o := origin(redirectURI); redirectURI != "" && o != "" {
		formAction += " " + o
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on the pick's POST, which handlePick refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
