package spid

import (
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrUnknownProvider: the login named no configured OP.
	ErrUnknownProvider = errors.New("spid: unknown provider")
	// ErrWrongBrowser: the callback did not come from the browser that
	// started the attempt (missing or different binding cookie).
	ErrWrongBrowser = errors.New("spid: callback from another browser than the one that started the login")
	// ErrInvalidResponse: the authorization response is malformed or names
	// another issuer.
	ErrInvalidResponse = errors.New("spid: invalid authorization response")
	// ErrIDToken: the ID token failed verification.
	ErrIDToken = errors.New("spid: invalid ID token")
	// ErrUserinfo: the userinfo response failed verification.
	ErrUserinfo = errors.New("spid: invalid userinfo")
	// ErrAttributes: a verified userinfo lacks what a contact needs.
	ErrAttributes = errors.New("spid: missing or malformed attributes")
	// ErrOP: the OP could not be reached or answered out of protocol.
	ErrOP = errors.New("spid: OP request failed")
	// ErrNoSession: logout without a session.
	ErrNoSession = errors.New("spid: no session to log out")
)

// OPError is an OAuth error the OP returned, at the callback
// (error=access_denied ...) or from the token endpoint.
type OPError struct {
	Code        string
	Description string
}

func (e *OPError) Error() string {
	if e.Description == "" {
		return "spid: OP error " + e.Code
	}
	return fmt.Sprintf("spid: OP error %s: %s", e.Code, e.Description)
}

// StatusOf is the HTTP status for a login or logout failure: 400 for a
// request the browser should not have made, 401 when the citizen or the OP
// declined, 502 when the OP misbehaved.
func StatusOf(err error) int {
	var ope *OPError
	switch {
	case errors.Is(err, ErrUnknownState), errors.Is(err, ErrWrongBrowser), errors.Is(err, ErrUnknownProvider),
		errors.Is(err, ErrInvalidResponse), errors.Is(err, ErrNoSession):
		return http.StatusBadRequest
	case errors.Is(err, ErrTooManyAttempts):
		return http.StatusServiceUnavailable
	case errors.As(err, &ope):
		if ope.Code == "access_denied" || ope.Code == "login_required" || ope.Code == "consent_required" {
			return http.StatusUnauthorized
		}
		return http.StatusBadGateway
	case errors.Is(err, ErrIDToken), errors.Is(err, ErrUserinfo), errors.Is(err, ErrAttributes), errors.Is(err, ErrOP):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
