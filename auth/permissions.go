package auth

import "strings"

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
	// Owner: staff, and citizens on what is theirs: the service lets a
	// citizen reach only the cases of their own contact record.
	Owner
)

// Rule says who may call a method and, for service accounts with scoped
// tokens, which scope the method needs.
type Rule struct {
	Access Access
	// Scope is what a scoped service token must hold: "<service>:read"
	// for reads, "<service>:write" for changes (write implies read).
	// Empty for methods anyone may call.
	Scope string
}

// Permissions is the one permission table: every gRPC method served (and so
// every REST route of the gateway) must have an entry; the server refuses a
// method that has none, and a test fails if one is missing.
var Permissions = map[string]Rule{
	"/grpc.health.v1.Health/Check":                                       {Public, ""},
	"/grpc.health.v1.Health/List":                                        {Public, ""},
	"/grpc.health.v1.Health/Watch":                                       {Public, ""},
	"/sportello.admin.v1.AccessLogService/ListAccessLog":                 {Admin, "admin:read"},
	"/sportello.admin.v1.AccessLogService/VerifyAccessLog":               {Admin, "admin:read"},
	"/sportello.admin.v1.ChannelService/ListChannels":                    {Admin, "admin:read"},
	"/sportello.admin.v1.ChannelService/SyncChannelTemplates":            {Admin, "admin:write"},
	"/sportello.admin.v1.DeadLetterService/ListDeadLetters":              {Admin, "admin:read"},
	"/sportello.admin.v1.DeadLetterService/ReplayDeadLetter":             {Admin, "admin:write"},
	"/sportello.calls.v1.CallService/AttachCall":                         {Staff, "calls:write"},
	"/sportello.calls.v1.CallService/BlockNumber":                        {Admin, "calls:write"},
	"/sportello.calls.v1.CallService/GetCall":                            {Staff, "calls:read"},
	"/sportello.calls.v1.CallService/ListBlockedNumbers":                 {Admin, "calls:read"},
	"/sportello.calls.v1.CallService/ListCalls":                          {Staff, "calls:read"},
	"/sportello.calls.v1.CallService/UnblockNumber":                      {Admin, "calls:write"},
	"/sportello.cases.v1.CaseService/AddMessage":                         {Owner, "cases:write"},
	"/sportello.cases.v1.CaseService/AssignCase":                         {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/BatchAssignCases":                   {Supervisor, "cases:write"},
	"/sportello.cases.v1.CaseService/BatchTransferCases":                 {Supervisor, "cases:write"},
	"/sportello.cases.v1.CaseService/ChangeStatus":                       {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/ClaimNextCase":                      {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/CreateCase":                         {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/GetAttachment":                      {Owner, "cases:read"},
	"/sportello.cases.v1.CaseService/GetCase":                            {Owner, "cases:read"},
	"/sportello.cases.v1.CaseService/GetWorkload":                        {Supervisor, "cases:read"},
	"/sportello.cases.v1.CaseService/LinkCases":                          {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/ListCaseEvents":                     {Staff, "cases:read"},
	"/sportello.cases.v1.CaseService/ListCases":                          {Owner, "cases:read"},
	"/sportello.cases.v1.CaseService/ListMessages":                       {Owner, "cases:read"},
	"/sportello.cases.v1.CaseService/MergeCases":                         {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/TransferCase":                       {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/UnlinkCases":                        {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/UpdateCase":                         {Staff, "cases:write"},
	"/sportello.cases.v1.CaseService/UploadAttachment":                   {Owner, "cases:write"},
	"/sportello.cases.v1.CaseService/WatchQueue":                         {Staff, "cases:read"},
	"/sportello.contacts.v1.ContactService/GetContact":                   {Staff, "contacts:read"},
	"/sportello.contacts.v1.ContactService/ListContactCases":             {Staff, "contacts:read"},
	"/sportello.contacts.v1.ContactService/MergeContacts":                {Supervisor, "contacts:write"},
	"/sportello.contacts.v1.ContactService/SearchContacts":               {Staff, "contacts:read"},
	"/sportello.directory.v1.CannedResponseService/CreateCannedResponse": {Admin, "directory:write"},
	"/sportello.directory.v1.CannedResponseService/DeleteCannedResponse": {Admin, "directory:write"},
	"/sportello.directory.v1.CannedResponseService/ListCannedResponses":  {Staff, "directory:read"},
	"/sportello.directory.v1.CannedResponseService/UpdateCannedResponse": {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/CreateCategory":            {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/CreateDepartment":          {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/CreateOperator":            {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/CreateRoutingRule":         {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/DeleteRoutingRule":         {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/ListCategories":            {Public, "directory:read"},
	"/sportello.directory.v1.DirectoryService/ListDepartments":           {Public, "directory:read"},
	"/sportello.directory.v1.DirectoryService/ListOperators":             {Staff, "directory:read"},
	"/sportello.directory.v1.DirectoryService/ListRoutingRules":          {Staff, "directory:read"},
	"/sportello.directory.v1.DirectoryService/ListSLAPolicies":           {Staff, "directory:read"},
	"/sportello.directory.v1.DirectoryService/SetPresence":               {Staff, "directory:write"},
	"/sportello.directory.v1.DirectoryService/SetSLAPolicy":              {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/UpdateCategory":            {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/UpdateDepartment":          {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/UpdateOperator":            {Admin, "directory:write"},
	"/sportello.directory.v1.DirectoryService/UpdateRoutingRule":         {Admin, "directory:write"},
	"/sportello.reports.v1.ReportService/ExportReport":                   {Supervisor, "reports:read"},
	"/sportello.reports.v1.ReportService/GetBacklogReport":               {Supervisor, "reports:read"},
	"/sportello.reports.v1.ReportService/GetOperatorReport":              {Supervisor, "reports:read"},
	"/sportello.reports.v1.ReportService/GetPerformanceReport":           {Supervisor, "reports:read"},
	"/sportello.reports.v1.ReportService/GetVolumeReport":                {Supervisor, "reports:read"},
	"/sportello.surveys.v1.SurveyService/CreateQuestionnaireVersion":     {Admin, "surveys:write"},
	"/sportello.surveys.v1.SurveyService/ExportSurveyResults":            {Supervisor, "surveys:read"},
	"/sportello.surveys.v1.SurveyService/GetSurveyResults":               {Supervisor, "surveys:read"},
	"/sportello.surveys.v1.SurveyService/ListQuestionnaires":             {Supervisor, "surveys:read"},
}

// Allows reports whether p (nil when anonymous) may call a method with
// this rule: the role must be allowed and, for a scoped token, the scope
// held.
func (r Rule) Allows(p *Principal) bool {
	if !r.Access.Allows(p) {
		return false
	}
	return r.Access == Public || p.HasScope(r.Scope)
}

// HasScope reports whether a principal's token covers scope: an unscoped
// principal holds every scope its role allows; "x:write" includes
// "x:read".
func (p *Principal) HasScope(scope string) bool {
	if len(p.Scopes) == 0 || scope == "" {
		return true
	}
	svc, _, _ := strings.Cut(scope, ":")
	for _, s := range p.Scopes {
		if s == scope || (strings.HasSuffix(scope, ":read") && s == svc+":write") {
			return true
		}
	}
	return false
}

// ValidScope reports whether s names a scope of the permission table.
func ValidScope(s string) bool {
	for _, r := range Permissions {
		if r.Scope == s {
			return true
		}
	}
	return false
}

// Allows reports whether p (nil when anonymous) may call a method with access a.
func (a Access) Allows(p *Principal) bool {
	switch a {
	case Public:
		return true
	case Owner:
		// A follow link's holder (FollowsCase) is an owner of one case;
		// its scopes keep it to the CaseService.
		return p != nil && (p.Staff() || p.Citizen() || (p.Role == RoleCitizen && p.Case != "" && len(p.Scopes) > 0))
	case Staff:
		return p != nil && p.Staff()
	case Admin:
		return p != nil && p.Role == RoleAdmin
	case Supervisor:
		return p != nil && (p.Role == RoleSupervisor || p.Role == RoleAdmin || p.Role == RoleService)
	}
	return false
}
