package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sportello/sportello/services/search"
)

// The synthetic institute behind the 1M-case benchmark: three years of
// requests, most of them long settled, a working backlog of about 14 %.

type weighted[T any] struct {
	v T
	w float64
}

func pick[T any](r *rand.Rand, opts []weighted[T]) T {
	x := r.Float64()
	for _, o := range opts {
		if x < o.w {
			return o.v
		}
		x -= o.w
	}
	return opts[len(opts)-1].v
}

type deptSpec struct {
	id         string
	categories []string
	subjects   []string
}

var queueDepts = []weighted[deptSpec]{
	{deptSpec{"statistics", []string{"data-request", "microdata", "custom-tabulation", "eu-data"}, []string{
		"Richiesta dati censimento", "Accesso ai microdati", "Elaborazione personalizzata", "Dati europei sulla popolazione",
		"Serie storiche prezzi al consumo", "Tavole occupazione regionale"}}, 0.50},
	{deptSpec{"communication", []string{"press-desk", "publications", "library"}, []string{
		"Richiesta intervista", "Copia del rapporto annuale", "Consultazione biblioteca", "Comunicato stampa"}}, 0.25},
	{deptSpec{"it", []string{"portal-account", "survey-respondents"}, []string{
		"Problema di accesso al portale", "Credenziali scadute", "Questionario indagine", "Errore nel modulo online"}}, 0.20},
	{deptSpec{"triage", nil, []string{"Informazioni", "Richiesta generica", "Segnalazione"}}, 0.05},
}

var queueStatuses = []weighted[string]{
	{"closed", 0.80}, {"resolved", 0.06}, {"open", 0.05}, {"new", 0.03}, {"pending_citizen", 0.03}, {"on_hold", 0.03},
}

// leanStatuses keep three cases in four active: the console benchmark's
// -console-data lean loads about 1.4 times as many cases as it needs
// active, instead of about 7 times (queueStatuses).
var leanStatuses = []weighted[string]{
	{"closed", 0.20}, {"resolved", 0.05}, {"open", 0.35}, {"new", 0.20}, {"pending_citizen", 0.10}, {"on_hold", 0.10},
}

var queueChannels = []weighted[[2]string]{
	{[2]string{"email", "contatti"}, 0.45}, {[2]string{"webform", "webform"}, 0.40}, {[2]string{"telegram", "telegram-bot"}, 0.05},
	{[2]string{"whatsapp", "whatsapp"}, 0.05}, {[2]string{"cti", "centralino"}, 0.05},
}

// slaTarget is a plausible resolution target per priority (1 low … 4 urgent).
var slaTarget = map[int]time.Duration{1: 120 * time.Hour, 2: 72 * time.Hour, 3: 24 * time.Hour, 4: 4 * time.Hour}

// vocabulary feeds message bodies with a Zipf distribution: the first
// words are in a large share of the cases, the last in few.
var vocabulary = strings.Fields(`dati richiesta informazioni anno tabella popolazione comune regione censimento
	indagine file formato istituto ricerca università tesi progetto statistiche serie storica mensile trimestrale
	annuale provincia famiglie imprese occupazione disoccupazione prezzi inflazione consumo reddito povertà
	istruzione sanità turismo agricoltura industria commercio esportazioni importazioni microdati variabili
	questionario campione stima errore metodologia classificazione codice ateco nace territorio confronto europa
	eurostat paesi dettaglio comunale sezione censimento2021 abitazioni edifici stranieri cittadinanza nascite
	decessi matrimoni migrazioni pendolarismo lavoro salari ore retribuzioni contratti pensioni spesa bilancio
	pubblicazione rapporto volume capitolo grafico mappa download portale accesso password credenziali spid
	account errore pagina modulo invio scadenza proroga sollecito risposta ringraziamenti cordiali saluti
	urgente chiarimento precisazione allegato documento licenza utilizzo citazione fonte aggiornamento revisione
	nota metodologica glossario definizione indicatore tasso percentuale media mediana distribuzione quota
	ricercatore studente giornalista intervista conferenza comunicato embargo diffusione calendario uscita
	biblioteca prestito consultazione catalogo periodico archivio storico digitale ristampa copia cartacea
	rispondente intervistatore telefonata visita domicilio obbligo sanzione privacy riservatezza anonimato
	trattamento garante consenso identità verifica rilevazione famiglia componenti reddito casa affitto mutuo`)

// syllables make rare pseudo-words (surnames, place names) that appear
// in a handful of cases each: the needle-in-a-haystack searches.
var syllables = strings.Fields("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze zi zo zu")

func pseudoWord(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(syllables[r.IntN(len(syllables))])
	}
	return b.String()
}

// places are 5,000 made-up place names, mentioned by half of the cases
// with a Zipf distribution: from about 5 % of the cases for the first to
// a few dozen cases for the last, the middle ground between vocabulary
// and rare names.
var places = func() []string {
	r := rand.New(rand.NewPCG(5, 6))
	suffixes := []string{"ano", "ello", "ino", "ate", "ona", "esi"}
	seen := map[string]bool{}
	var out []string
	for len(out) < 5000 {
		p := pseudoWord(r, 2) + suffixes[r.IntN(len(suffixes))]
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}()

// uuidV7At is a UUIDv7 for time t: the store orders cases by id, which
// is their creation order.
func uuidV7At(r *rand.Rand, t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	for i := 6; i < 16; i++ {
		u[i] = byte(r.Uint32())
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u
}

// caseGen produces the rows of the synthetic case table, deterministically.
type caseGen struct {
	r        *rand.Rand
	zipf     *rand.Zipf
	place    *rand.Zipf
	now      time.Time
	contacts []uuid.UUID
	statuses []weighted[string]
	i, n     int
}

func newCaseGen(n int, contacts []uuid.UUID, now time.Time, statuses []weighted[string]) *caseGen {
	r := rand.New(rand.NewPCG(1, 2))
	return &caseGen{r: r, zipf: rand.NewZipf(r, 1.2, 4, uint64(len(vocabulary)-1)), place: rand.NewZipf(r, 1.0001, 1, uint64(len(places)-1)),
		now: now, contacts: contacts, n: n, statuses: statuses}
}

var caseColumns = []string{"id", "reference", "subject", "description", "status", "priority", "category_code",
	"department_id", "assignee_id", "channel_kind", "channel_id", "contact_id", "created_at", "updated_at", "version",
	"sla_due_at", "sla_warn_at", "sla_paused_at", "sla_paused_seconds", "sla_warned", "sla_breached", "search_terms",
	"first_response_due_at", "first_responded_at", "first_response_breached", "language", "settled_at"}

func (g *caseGen) Next() bool { g.i++; return g.i <= g.n }
func (g *caseGen) Err() error { return nil }

func (g *caseGen) Values() ([]any, error) {
	r := g.r
	d := pick(r, queueDepts)
	status := pick(r, g.statuses)
	active := status != "closed" && status != "resolved"
	age := time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour)))
	if active {
		age = time.Duration(r.Int64N(int64(30 * 24 * time.Hour)))
	}
	created := g.now.Add(-age).Truncate(time.Microsecond)
	priority := pick(r, []weighted[int]{{1, 0.15}, {2, 0.60}, {3, 0.20}, {4, 0.05}})
	target := slaTarget[priority]
	due, warn := created.Add(target), created.Add(target*8/10)
	firstDue := created.Add(target / 4)
	category := ""
	if len(d.categories) > 0 && r.Float64() < 0.9 {
		category = d.categories[r.IntN(len(d.categories))]
	}
	subject := d.subjects[r.IntN(len(d.subjects))] + " " + vocabulary[g.zipf.Uint64()]
	words := make([]string, 20+r.IntN(40))
	for i := range words {
		words[i] = vocabulary[g.zipf.Uint64()]
	}
	if r.Float64() < 0.5 {
		words = append(words, places[g.place.Uint64()])
	}
	if r.Float64() < 0.3 {
		words = append(words, pseudoWord(r, 3)) // 30 % name a person: a few cases each
	}
	description := strings.Join(words, " ")
	ch := pick(r, queueChannels)
	assignee := ""
	if status != "new" && !(status == "open" && r.Float64() < 0.1) {
		assignee = fmt.Sprintf("op-hist-%02d", r.IntN(60))
	}
	var (
		updated                  = created
		settled, paused          any
		firstResponded           any
		warned, breached, frMiss bool
	)
	end := g.now
	if !active {
		s := created.Add(time.Hour + time.Duration(r.Int64N(int64(10*24*time.Hour))))
		if s.After(g.now) {
			s = g.now
		}
		settled, updated, end = s, s, s
	}
	if assignee != "" {
		firstResponded = created.Add(time.Duration(r.Int64N(int64(target / 3))))
	} else {
		frMiss = !firstDue.After(g.now)
	}
	if status == "pending_citizen" || status == "on_hold" {
		p := created.Add(time.Duration(r.Int64N(int64(g.now.Sub(created)) + 1)))
		paused, end = p, p
	}
	warned, breached = !warn.After(end), !due.After(end)
	language := "it"
	if r.Float64() < 0.05 {
		language = "en"
	}
	return []any{
		uuidV7At(r, created), fmt.Sprintf("%d-%07d", created.Year(), g.i), subject, description, status, priority, category,
		d.id, assignee, ch[0], ch[1], g.contacts[int(float64(len(g.contacts))*r.Float64()*r.Float64())], created, updated, 1,
		due, warn, paused, 0, warned, breached, search.Document(subject, description),
		firstDue, firstResponded, frMiss, language, settled,
	}, nil
}

// loadCases fills an empty, migrated schema with n cases, their statuses
// drawn from statuses, and n/3 contacts by COPY. The cases indexes are dropped first and rebuilt after,
// from their own definitions, as a bulk load would do.
func loadCases(ctx context.Context, conn *pgx.Conn, n int, now time.Time, statuses []weighted[string]) (copySecs, indexSecs float64, err error) {
	contacts := make([]uuid.UUID, max(n/3, 1))
	r := rand.New(rand.NewPCG(3, 4))
	for i := range contacts {
		contacts[i] = uuidV7At(r, now.Add(-time.Duration(len(contacts)-i)*time.Minute))
	}
	start := time.Now()
	ci := 0
	if _, err = conn.CopyFrom(ctx, pgx.Identifier{"contacts"}, []string{"id", "display_name", "email", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if ci == len(contacts) {
				return nil, nil
			}
			ci++
			return []any{contacts[ci-1], fmt.Sprintf("Cittadino %d", ci), fmt.Sprintf("c%d@example.it", ci), now}, nil
		})); err != nil {
		return 0, 0, fmt.Errorf("copy contacts: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'cases'
		  AND indexname NOT IN ('cases_pkey', 'cases_reference_key')`)
	if err != nil {
		return 0, 0, err
	}
	type index struct{ name, def string }
	var indexes []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.def); err != nil {
			return 0, 0, err
		}
		indexes = append(indexes, ix)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix.name}.Sanitize()); err != nil {
			return 0, 0, err
		}
	}
	if _, err = conn.CopyFrom(ctx, pgx.Identifier{"cases"}, caseColumns, newCaseGen(n, contacts, now, statuses)); err != nil {
		return 0, 0, fmt.Errorf("copy cases: %w", err)
	}
	copySecs = time.Since(start).Seconds()
	start = time.Now()
	if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '512MB'"); err != nil {
		return 0, 0, err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, ix.def); err != nil {
			return 0, 0, fmt.Errorf("rebuild %s: %w", ix.name, err)
		}
	}
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) cases"); err != nil {
		return 0, 0, err
	}
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) contacts"); err != nil {
		return 0, 0, err
	}
	return copySecs, time.Since(start).Seconds(), nil
}
