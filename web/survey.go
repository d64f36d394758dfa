package web

import (
	"errors"
	"maps"
	"net/http"

	"github.com/sportello/sportello/services/surveys"
)

// SetSurveys turns on the survey pages and the portal's survey banner.
func (s *Site) SetSurveys(sv *surveys.Service) { s.surveys = sv }

// maxSurveyForm bounds a posted survey form.
const maxSurveyForm = 64 << 10

type surveyPage struct {
	page
	Mode   string // "form", "thanks", "invalid", "optout", "optedout", "unavailable"
	Action string
	Q      surveys.Questionnaire
	A      surveys.Answer
	Errors []shownError
	Scale  []int
}

// surveyT is the page's texts: the site's and the survey's.
func surveyT(lang string) map[string]string {
	t := maps.Clone(texts[lang])
	maps.Copy(t, surveyTexts[lang])
	return t
}

func (s *Site) surveyPage(w http.ResponseWriter, r *http.Request, mode string) surveyPage {
	p := surveyPage{page: s.base(w, r, ""), Mode: mode, Scale: []int{1, 2, 3, 4, 5}}
	p.T = surveyT(p.Lang)
	p.Title = p.T["survey.title"]
	p.Action = r.URL.Path + "?lang=" + p.Lang
	return p
}

func (s *Site) renderSurvey(w http.ResponseWriter, status int, p surveyPage) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the path holds the token
	s.render(w, status, "survey.html", p)
}

// surveyFailed renders the page for an error of the survey service: a
// clear page for a used or unknown link, never a 500.
func (s *Site) surveyFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, surveys.ErrInvalidToken) {
		s.renderSurvey(w, http.StatusNotFound, s.surveyPage(w, r, "invalid"))
		return
	}
	s.log.ErrorContext(r.Context(), "web: survey", "err", err)
	s.renderSurvey(w, http.StatusServiceUnavailable, s.surveyPage(w, r, "unavailable"))
}

// Survey serves GET /survey/{token}: the questionnaire.
func (s *Site) Survey(w http.ResponseWriter, r *http.Request) {
	q, err := s.surveys.Open(r.Context(), r.PathValue("token"))
	if err != nil {
		s.surveyFailed(w, r, err)
		return
	}
	p := s.surveyPage(w, r, "form")
	p.Q = q
	s.renderSurvey(w, http.StatusOK, p)
}

// SubmitSurvey serves POST /survey/{token}: the answers. Refused fields
// show the form again with an error summary linked to them.
func (s *Site) SubmitSurvey(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSurveyForm)
	if err := r.ParseForm(); err != nil {
		p := s.surveyPage(w, r, "invalidForm")
		s.renderSurvey(w, http.StatusBadRequest, p)
		return
	}
	q, a, ferrs, err := s.surveys.Submit(r.Context(), r.PathValue("token"), r.PostForm)
	if err != nil {
		s.surveyFailed(w, r, err)
		return
	}
	if len(ferrs) > 0 {
		p := s.surveyPage(w, r, "form")
		p.Q, p.A = q, a
		for _, f := range ferrs {
			p.Errors = append(p.Errors, shownError{Field: f.Field, Label: p.T["survey.field."+f.Field], Text: p.T["survey.reason."+f.Reason]})
		}
		s.renderSurvey(w, http.StatusBadRequest, p)
		return
	}
	s.renderSurvey(w, http.StatusOK, s.surveyPage(w, r, "thanks"))
}

// SurveyOptOut serves GET /survey/opt-out/{token}: a button, not the
// opt-out itself (mail scanners follow links).
func (s *Site) SurveyOptOut(w http.ResponseWriter, r *http.Request) {
	if !surveys.WellFormedToken(r.PathValue("token")) {
		s.surveyFailed(w, r, surveys.ErrInvalidToken)
		return
	}
	s.renderSurvey(w, http.StatusOK, s.surveyPage(w, r, "optout"))
}

// ConfirmSurveyOptOut serves POST /survey/opt-out/{token}.
func (s *Site) ConfirmSurveyOptOut(w http.ResponseWriter, r *http.Request) {
	if err := s.surveys.OptOut(r.Context(), r.PathValue("token")); err != nil {
		s.surveyFailed(w, r, err)
		return
	}
	s.renderSurvey(w, http.StatusOK, s.surveyPage(w, r, "optedout"))
}

// SurveyRoutes are the survey pages by pattern, for the server's mux.
func (s *Site) SurveyRoutes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /survey/{token}":          http.HandlerFunc(s.Survey),
		"POST /survey/{token}":         http.HandlerFunc(s.SubmitSurvey),
		"GET /survey/opt-out/{token}":  http.HandlerFunc(s.SurveyOptOut),
		"POST /survey/opt-out/{token}": http.HandlerFunc(s.ConfirmSurveyOptOut),
	}
}
