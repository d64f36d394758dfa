package auth

// Access is who may call a method. Object-level checks (which case, which
// department) are made by the service on top of this.
type Access int

const (
	// Public: anyone, authenticated or not.
	Public Access = iota + 1
	// Staff: operators, supervisors, admins and service accounts.
	Staff
	// Admin: administrators only.
	Admin
	// Supervisor: supervisors, administrators and service accounts.
	Supervisor
)

// Permissions is the one permission table: every gRPC method served (and so
// every REST route of the gateway) must have an entry; the server refuses a
// method that has none, and a test fails if one is missing.
var Permissions = map[string]Access{
	"/sportello.cases.v1.CaseService/GetCase":            Staff,
	"/sportello.cases.v1.CaseService/WatchQueue":         Staff,
	"/sportello.cases.v1.CaseService/UpdateCase":         Staff,
	"/sportello.cases.v1.CaseService/AddMessage":         Staff,
	"/sportello.cases.v1.CaseService/ListMessages":       Staff,
	"/sportello.cases.v1.CaseService/TransferCase":       Staff,
	"/sportello.cases.v1.CaseService/BatchAssignCases":   Supervisor,
	"/sportello.cases.v1.CaseService/BatchTransferCases": Supervisor,
	"/sportello.cases.v1.CaseService/GetWorkload":        Supervisor,
	"/sportello.cases.v1.CaseService/AssignCase":         Staff,
	"/sportello.cases.v1.CaseService/ClaimNextCase":      Staff,
	// The plain HTTP upload and download routes check these two entries.
	"/sportello.cases.v1.CaseService/UploadAttachment":           Staff,
	"/sportello.cases.v1.CaseService/GetAttachment":              Staff,
	"/sportello.directory.v1.DirectoryService/ListRoutingRules":  Staff,
	"/sportello.directory.v1.DirectoryService/CreateRoutingRule": Admin,
	"/sportello.directory.v1.DirectoryService/DeleteRoutingRule": Admin,
	"/sportello.directory.v1.DirectoryService/ListOperators":     Staff,
	"/sportello.cases.v1.CaseService/ChangeStatus":               Staff,
	"/sportello.cases.v1.CaseService/ListCaseEvents":             Staff,
	"/sportello.cases.v1.CaseService/ListCases":                  Staff,
	"/sportello.directory.v1.DirectoryService/ListCategories":    Public,
	"/sportello.directory.v1.DirectoryService/ListDepartments":   Public,
	"/sportello.admin.v1.DeadLetterService/ListDeadLetters":      Admin,
	"/sportello.admin.v1.DeadLetterService/ReplayDeadLetter":     Admin,
	"/sportello.cases.v1.CaseService/CreateCase":                 Staff,
	"/sportello.directory.v1.DirectoryService/UpdateRoutingRule": Admin,
	"/sportello.directory.v1.DirectoryService/CreateDepartment":  Admin,
	"/sportello.directory.v1.DirectoryService/UpdateDepartment":  Admin,
	"/sportello.directory.v1.DirectoryService/CreateCategory":    Admin,
	"/sportello.directory.v1.DirectoryService/UpdateCategory":    Admin,
	"/sportello.directory.v1.DirectoryService/CreateOperator":    Admin,
	"/sportello.directory.v1.DirectoryService/UpdateOperator":    Admin,
	"/sportello.directory.v1.DirectoryService/SetPresence":       Staff,
	"/sportello.directory.v1.DirectoryService/ListSLAPolicies":   Staff,
	"/sportello.directory.v1.DirectoryService/SetSLAPolicy":      Admin,
	"/sportello.cases.v1.CaseService/MergeCases":                 Staff,
	"/sportello.cases.v1.CaseService/LinkCases":                  Staff,
	"/sportello.cases.v1.CaseService/UnlinkCases":                Staff,
	"/sportello.contacts.v1.ContactService/GetContact":           Staff,
	"/sportello.contacts.v1.ContactService/ListContactCases":     Staff,
	"/sportello.contacts.v1.ContactService/SearchContacts":       Staff,
	"/grpc.health.v1.Health/Check":                               Public,
	"/grpc.health.v1.Health/List":                                Public,
	"/grpc.health.v1.Health/Watch":                               Public,
}

// Allows reports whether p (nil when anonymous) may call a method with access a.
func (a Access) Allows(p *Principal) bool {
	switch a {
	case Public:
		return true
	case Staff:
		return p != nil && p.Staff()
	case Admin:
		return p != nil && p.Role == RoleAdmin
	case Supervisor:
		return p != nil && (p.Role == RoleSupervisor || p.Role == RoleAdmin || p.Role == RoleService)
	}
	return false
}
