package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/sportello/sportello/api/sportello/cases/v1"
)

// sla is a case's deadline as a badge: State is ok, warning, breached,
// paused or none; Left is the time to the deadline (negative when past).
type sla struct {
	State string
	Due   time.Time
	Warn  time.Time // when the state turns warning; zero when unknown
	Left  time.Duration
}

// DueMS and WarnMS are the deadline and the warning time in Unix
// milliseconds, for console.js's ticking badge; 0 when unset.
func (s sla) DueMS() int64 {
	if s.Due.IsZero() {
		return 0
	}
	return s.Due.UnixMilli()
}

func (s sla) WarnMS() int64 {
	if s.Warn.IsZero() {
		return 0
	}
	return s.Warn.UnixMilli()
}

func slaOf(c *casesv1.Case, now time.Time) sla {
	s := sla{State: c.GetSlaState()}
	if s.State == "" {
		s.State = "none"
	}
	if c.GetSlaDueTime() != nil && s.State != "none" {
		s.Due = c.GetSlaDueTime().AsTime()
		s.Left = s.Due.Sub(now)
		if c.GetSlaWarningTime() != nil {
			s.Warn = c.GetSlaWarningTime().AsTime()
		}
	}
	return s
}

// countdown is a short duration for a badge: "2g 3h", "3h 05m", "12m".
func countdown(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Minute)
	days, hours, mins := int(d.Hours())/24, int(d.Hours())%24, int(d.Minutes())%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %02dm", hours, mins)
	}
	return fmt.Sprintf("%dm", mins)
}

// slaText is a badge's text: the state and the time left or overdue.
func slaText(t map[string]string, s sla) string {
	out := tr(t, "sla."+s.State)
	if s.Due.IsZero() || s.State == "paused" {
		return out
	}
	if s.Left < 0 {
		return out + " · " + tr(t, "sla.over") + " " + countdown(s.Left)
	}
	return out + " · " + tr(t, "sla.left") + " " + countdown(s.Left)
}

// channelIcon names the bootstrap-italia sprite of a channel kind.
func channelIcon(kind string) string {
	switch kind {
	case "email":
		return "it-mail"
	case "webform":
		return "it-pencil"
	case "portal":
		return "it-user"
	case "cti", "phone":
		return "it-telephone"
	case "walk_in":
		return "it-map-marker"
	case "letter":
		return "it-file"
	}
	return "it-comment"
}

// badge is the bootstrap-italia badge class of an SLA state.
func badge(state string) string {
	switch state {
	case "ok":
		return "bg-success"
	case "warning":
		return "bg-warning"
	case "breached":
		return "bg-danger"
	}
	return "bg-secondary"
}

// enumName is a proto enum value's short lower-case name: STATUS_OPEN → open.
func enumName(v fmt.Stringer) string {
	s := v.String()
	if i := strings.Index(s, "_"); i >= 0 {
		s = s[i+1:]
	}
	return strings.ToLower(s)
}

func tr(t map[string]string, key string) string {
	if v, ok := t[key]; ok {
		return v
	}
	return key
}

var funcs = template.FuncMap{
	"countdown": countdown,
	"icon":      channelIcon,
	"badge":     badge,
	"tr":        tr,
	"status":    func(s casesv1.Status) string { return enumName(s) },
	"priority":  func(p casesv1.Priority) string { return enumName(p) },
	"direction": func(d casesv1.Direction) string { return enumName(d) },
	"when": func(t interface{ AsTime() time.Time }) string {
		return t.AsTime().Local().Format("02/01/2006 15:04")
	},
	"neg":     func(d time.Duration) bool { return d < 0 },
	"join":    strings.Join,
	"sprite":  func() string { return spritePath },
	"slaText": slaText,
	"pct": func(n, of int32) int32 {
		if of <= 0 {
			return 0
		}
		return min(100, n*100/of)
	},
	"kb": func(n int64) string { return fmt.Sprintf("%.1f KB", float64(n)/1024) },
	// textsWith is the texts whose keys start with prefix, as JSON, for
	// console.js (which draws the call notice in the page's language).
	"textsWith": func(t map[string]string, prefix string) string {
		out := map[string]string{}
		for k, v := range t {
			if strings.HasPrefix(k, prefix) {
				out[strings.TrimPrefix(k, prefix)] = v
			}
		}
		b, _ := json.Marshal(out)
		return string(b)
	},
	// boardAction is a bulk action's URL with the board's query (back is
	// the board's own URL), so the action returns to the same filter.
	"boardAction": func(action, back string) string {
		_, q, _ := strings.Cut(back, "?")
		if q == "" {
			return BoardPath + "/" + action
		}
		return BoardPath + "/" + action + "?" + q
	},
}

// Where the bootstrap-italia assets are served (by the portal). The
// console's own few lines of script (console.js) do what htmx would.
const (
	cssPath    = "/static/bootstrap-italia/dist/css/bootstrap-italia.min.css"
	jsPath     = "/static/bootstrap-italia/dist/js/bootstrap-italia.bundle.min.js"
	spritePath = "/static/bootstrap-italia/dist/svg/sprites.svg"
)

// httpStatus is the page status for a failed call.
func httpStatus(err error) int {
	var st interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &st) {
		return http.StatusBadGateway
	}
	switch st.GRPCStatus().Code() {
	case codes.NotFound:
		return http.StatusNotFound
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.InvalidArgument, codes.FailedPrecondition:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.Aborted:
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}
