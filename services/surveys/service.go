package surveys

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"time"
)

// Service is what the citizen's survey pages use: open a link, answer,
// opt out; and the portal's banner.
type Service struct {
	Store Store
	// Location is where months are counted; UTC when nil.
	Location *time.Location
	Now      func() time.Time
	// Responded is called after each stored response (a metric).
	Responded func()
}

func (s *Service) now() time.Time {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if s.Location != nil {
		return now.In(s.Location)
	}
	return now.UTC()
}

// Current returns the newest questionnaire version, creating version 1
// (Default) on an empty store.
func (s *Service) Current(ctx context.Context) (Questionnaire, error) {
	list, err := s.Store.ListQuestionnaires(ctx)
	if err != nil {
		return Questionnaire{}, err
	}
	if len(list) > 0 {
		return list[0], nil
	}
	q, err := s.Store.CreateQuestionnaire(ctx, Default)
	if err != nil {
		// Another replica may have created it first.
		if list, lerr := s.Store.ListQuestionnaires(ctx); lerr == nil && len(list) > 0 {
			return list[0], nil
		}
		return Questionnaire{}, err
	}
	return q, nil
}

// Open checks a survey link's token and returns the questionnaire to show.
func (s *Service) Open(ctx context.Context, token string) (Questionnaire, error) {
	if !WellFormedToken(token) {
		return Questionnaire{}, ErrInvalidToken
	}
	if _, err := s.Store.PendingSurvey(ctx, HashToken(token), s.now()); err != nil {
		return Questionnaire{}, err
	}
	return s.Current(ctx)
}

// Submit answers the survey of token with a posted form. It returns the
// questionnaire answered and, when the form is refused, the field errors
// (nothing is stored then, and the link stays valid). ErrInvalidToken when
// the link is unknown, expired or used.
func (s *Service) Submit(ctx context.Context, token string, form url.Values) (Questionnaire, Answer, []FieldError, error) {
	q, err := s.Open(ctx, token)
	if err != nil {
		return Questionnaire{}, Answer{}, nil, err
	}
	if v := ParseVersion(form); v != 0 && v != q.Version {
		// The page showed an older version: answers belong to it.
		switch old, err := s.Store.GetQuestionnaire(ctx, v); {
		case err == nil:
			q = old
		case !errors.Is(err, ErrNotFound):
			return Questionnaire{}, Answer{}, nil, err
		}
	}
	a, ferrs := ParseForm(form, q)
	if len(ferrs) > 0 {
		return q, a, ferrs, nil
	}
	a.Comment = Mask(a.Comment)
	now := s.now()
	if err := s.Store.Respond(ctx, HashToken(token), Response{Answer: a, Month: now.Format("2006-01")}, now); err != nil {
		return q, a, nil, err
	}
	if s.Responded != nil {
		s.Responded()
	}
	return q, a, nil, nil
}

// OptOut records that the citizen invited with opt-out token wants no
// more questionnaires.
func (s *Service) OptOut(ctx context.Context, token string) error {
	if !WellFormedToken(token) {
		return ErrInvalidToken
	}
	return s.Store.OptOut(ctx, HashToken(token))
}

// Banner is a pending invitation shown on the signed-in citizen's portal
// page, whatever channel the invitation went on.
type Banner struct {
	Reference string
	Path      string // "/survey/<token>"
}

// InvitationMessage is an invitation as the case thread holds it.
type InvitationMessage struct {
	Reference string
	Body      string
}

var linkRE = regexp.MustCompile(`/survey/([A-Za-z0-9_-]{43})`)

// Banners returns the contact's invitations still unanswered. The
// token is read back from the invitation message in the case thread (the
// survey tables keep only its hash).
func (s *Service) Banners(ctx context.Context, contactID string) ([]Banner, error) {
	msgs, err := s.Store.ContactInvitations(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var out []Banner
	for _, m := range msgs {
		sm := linkRE.FindStringSubmatch(m.Body)
		if sm == nil {
			continue
		}
		switch _, err := s.Store.PendingSurvey(ctx, HashToken(sm[1]), s.now()); {
		case errors.Is(err, ErrInvalidToken):
		case err != nil:
			return nil, err
		default:
			out = append(out, Banner{Reference: m.Reference, Path: "/survey/" + sm[1]})
		}
	}
	return out, nil
}
