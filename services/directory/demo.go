package directory

// Demo is the institute-like organisation the embedded default starts with.
var Demo = struct {
	Departments []Department
	Categories  []Category
	Operators   []Operator
}{
	Operators: []Operator{
		{ID: "op-statistics", DisplayName: "Giulia Conti", Email: "giulia.conti@example.it", Role: "operator", Presence: Online, Capacity: 20,
			Departments: []string{"statistics"}, Skills: []string{"microdata"}, Languages: []string{"it", "en"}},
		{ID: "op-communication", DisplayName: "Marco Esposito", Email: "marco.esposito@example.it", Role: "operator", Presence: Online, Capacity: 20,
			Departments: []string{"communication"}, Languages: []string{"it"}},
		{ID: "op-it", DisplayName: "Sara Romano", Email: "sara.romano@example.it", Role: "operator", Presence: Online, Capacity: 20,
			Departments: []string{"it"}, Languages: []string{"it", "en"}},
		{ID: "sup-contact-centre", DisplayName: "Paolo Ricci", Email: "paolo.ricci@example.it", Role: "supervisor", Presence: Online, Capacity: 10,
			Departments: []string{"statistics", "communication", "it", "triage"}, Languages: []string{"it", "en"}},
	},
	Departments: []Department{
		{ID: "statistics", Name: "Statistica", Policy: PolicyManual},
		{ID: "communication", Name: "Comunicazione", Policy: PolicyRoundRobin},
		{ID: "it", Name: "Servizi informatici", Policy: PolicyLeastLoaded},
	},
	Categories: []Category{
		{Code: "data-request", Name: "Richiesta di dati", Description: "Dati statistici pubblicati o non ancora pubblicati.", DepartmentID: "statistics"},
		{Code: "microdata", Name: "File di microdati", Description: "Accesso ai file di microdati per la ricerca.", DepartmentID: "statistics"},
		{Code: "custom-tabulation", Name: "Elaborazioni personalizzate", Description: "Tavole su richiesta a partire dai dati dell'istituto.", DepartmentID: "statistics"},
		{Code: "eu-data", Name: "Dati europei", Description: "Statistiche europee e confronti tra paesi.", DepartmentID: "statistics"},
		{Code: "press-desk", Name: "Ufficio stampa", Description: "Richieste dei giornalisti.", DepartmentID: "communication"},
		{Code: "publications", Name: "Pubblicazioni", Description: "Volumi, report e mappe.", DepartmentID: "communication"},
		{Code: "library", Name: "Biblioteca", Description: "Ricerche bibliografiche e consultazione.", DepartmentID: "communication"},
		{Code: "portal-account", Name: "Portale e account", Description: "Problemi di accesso al portale e alle credenziali.", DepartmentID: "it"},
		{Code: "survey-respondents", Name: "Rispondenti alle indagini", Description: "Domande di chi partecipa a un'indagine.", DepartmentID: "it"},
	},
}
