package mailparse

import "testing"

func TestTrimReply(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      string
		forward bool
		want    string
	}{
		{"no quote", "Buongiorno,\nvorrei i dati.\n\nMario", false, "Buongiorno,\nvorrei i dati.\n\nMario"},
		{"gmail attribution on two lines",
			"Grazie.\n\nIl giorno lun 9 mar 2026 alle ore 10:15 Ufficio <\nu@example.org> ha scritto:\n\n> vecchio\n>\n", false, "Grazie."},
		{"english attribution", "Thanks!\n\nOn Mon, Mar 2, 2026 at 9:00 AM Office <o@example.org> wrote:\n> old", false, "Thanks!"},
		{"bottom posting", "Il 18/03/2026, Ufficio ha scritto:\n> Serve altro?\n\nNo, grazie.\n\n> Saluti\n\nMario", false, "No, grazie.\n\nMario"},
		{"outlook block with separator",
			"Ok.\n\n________________________________\nDa: Ufficio <u@example.org>\nInviato: venerdì 27 febbraio 2026 10:15\nA: Mario\nOggetto: Dati\n\nTesto originale", false, "Ok."},
		{"outlook block without separator",
			"Ok.\n\nFrom: Office <o@example.org>\nSent: Monday, March 2, 2026 10:00 AM\nTo: Mario\nSubject: Data\n\nOriginal", false, "Ok."},
		{"original message separator", "Sì.\n\n-----Messaggio originale-----\nDa: x\nOggetto: y\n\nz", false, "Sì."},
		{"unquoted original after attribution", "Perfetto.\n\n    Il sabato 25 aprile 2026, Ufficio <u@example.org> ha scritto:\n\n Gentile utente", false, "Perfetto."},
		{"signature", "Ecco i dati.\n\n-- \nMario Rossi\nVia Roma 1", false, "Ecco i dati."},
		{"mobile signature", "Va bene.\n\nInviato da iPhone", false, "Va bene."},
		{"mobile signature before quote", "Va bene.\n\nInviato da iPhone\n\n> Il giorno 2 mar, Ufficio ha scritto:\n> testo", false, "Va bene."},
		{"sent from in the middle stays", "Sent from my office, the data below:\n1\n2\n3\n4\n5", false, "Sent from my office, the data below:\n1\n2\n3\n4\n5"},
		{"a forward keeps its content", "Vedi sotto.\n\n---------- Forwarded message ---------\nDa: x\n\nContenuto", false, "Vedi sotto.\n\n---------- Forwarded message ---------\nDa: x\n\nContenuto"},
		{"a forward by subject keeps the Outlook block", "Vedi.\n\nDa: x\nInviato: ieri\nOggetto: y\n\ntesto", true, "Vedi.\n\nDa: x\nInviato: ieri\nOggetto: y\n\ntesto"},
		{"only a quote: nothing is lost", "> solo una citazione\n> senza risposta", false, "> solo una citazione\n> senza risposta"},
		{"only a signature", "-- \nMario", false, "-- \nMario"},
		{"blank lines collapsed", "a\n\n\n\nb\n\n-- \nsig", false, "a\n\nb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := trimReply(tt.in, tt.forward); got != tt.want {
				t.Errorf("trimReply:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestIsForward(t *testing.T) {
	for s, want := range map[string]bool{
		"I: Questionario": true, "Fwd: x": true, "FW: x": true, "Inoltro: x": true, "[EXT] Fwd: x": true,
		"Re: x": false, "R: I: x": false, "Inoltrato il modulo": false, "Info: x": false,
	} {
		if got := isForward(s); got != want {
			t.Errorf("isForward(%q) = %v", s, got)
		}
	}
}

func TestUnflow(t *testing.T) {
	for _, tt := range []struct {
		in    string
		delsp bool
		want  string
	}{
		{"una riga \ncontinua\n", false, "una riga continua\n"},
		{"una riga \ncontinua\n", true, "una rigacontinua\n"},
		{"> citata \n> continua\nnuova\n", false, "> citata continua\nnuova\n"},
		{"> livello uno \n>> livello due\n", false, "> livello uno \n>> livello due\n"},
		{" >stuffed\n", false, ">stuffed\n"},
		{"testo\n-- \nfirma\n", false, "testo\n-- \nfirma\n"},
	} {
		if got := unflow(tt.in, tt.delsp); got != tt.want {
			t.Errorf("unflow(%q, %v) = %q, want %q", tt.in, tt.delsp, got, tt.want)
		}
	}
}
