// Package search turns Italian text into search terms: tokens of letters
// and digits, lower-cased, without stop words, reduced to their Snowball
// stem ("microdati" and "microdato" are both "microd"). Storage indexes
// these terms on either engine, so a query finds the same cases on SQLite
// and PostgreSQL; routing rules match keywords with the same terms.
package search

import (
	"slices"
	"strings"
	"unicode"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/italian"
)

// maxTerms bounds the terms kept for one document.
const maxTerms = 2000

// maxTermLen skips tokens that are not words (hashes, base64).
const maxTermLen = 40

// Terms returns the distinct stems of text, in order of first appearance.
func Terms(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tok := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len([]rune(tok)) > maxTermLen || stopWords[tok] {
			continue
		}
		env := snowballstem.NewEnv(tok)
		italian.Stem(env)
		stem := env.Current()
		if stem == "" || seen[stem] {
			continue
		}
		seen[stem] = true
		out = append(out, stem)
		if len(out) == maxTerms {
			break
		}
	}
	return out
}

// Document is the stored form of texts' terms: space-separated, sorted.
func Document(texts ...string) string {
	var all []string
	for _, t := range texts {
		all = append(all, Terms(t)...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) > maxTerms {
		all = all[:maxTerms]
	}
	return strings.Join(all, " ")
}

// Merge adds texts' terms to a stored document.
func Merge(doc string, texts ...string) string {
	return Document(append([]string{doc}, texts...)...)
}

// stopWords are Italian function words that carry no meaning for search.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a ad al alla alle agli ai all allo anche avere c che chi ci come con cui da dal dalla
		dalle dagli dai dall dallo degli dei del della delle dell dello di e ed è gli ha hanno ho i il in io la le lei lo loro
		lui ma mi mia mie miei mio ne nei nel nella nelle nell nello no noi non o per più quale quando quello questa questo
		se si sia sono su sua sue sui sul sulla sull suo tra tu un una uno vi voi l d nell quest quell`) {
		m[w] = true
	}
	return m
}()

// Union joins stored documents (of Document or Merge) into one.
func Union(docs ...string) string {
	var all []string
	for _, d := range docs {
		all = append(all, strings.Fields(d)...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) > maxTerms {
		all = all[:maxTerms]
	}
	return strings.Join(all, " ")
}
