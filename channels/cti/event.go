package cti

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sportello/sportello/channels/phone"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event types a PBX sends (the "event" field).
const (
	TypeNewCall = "newCall"
	TypeAnswer  = "answer"
	TypeHangup  = "hangup"
)

// Directions of a call.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
)

// Hangup causes, named after the ISDN/SIP causes PBXs report (Q.850
// normal clearing 16, user busy 17, no answer 19, ...).
const (
	CauseNormalClearing = "normalClearing"
	CauseBusy           = "busy"
	CauseCancel         = "cancel"
	CauseNoAnswer       = "noAnswer"
	CauseCongestion     = "congestion"
	CauseNotFound       = "notFound"
	CauseForwarded      = "forwarded"
)

// Causes lists every hangup cause accepted.
var Causes = []string{CauseNormalClearing, CauseBusy, CauseCancel, CauseNoAnswer, CauseCongestion, CauseNotFound, CauseForwarded}

// UnansweredCauses are the causes of a call nobody took: in a queue, they
// ask for a callback.
var UnansweredCauses = []string{CauseNoAnswer, CauseCancel, CauseBusy}

// Limits of an event's fields.
const (
	maxIDBytes     = 128
	maxNumberBytes = 32
	maxNameBytes   = 64
	maxURLBytes    = 2048
	maxDuration    = 7 * 24 * 3600
)

// Event is one webhook call of the PBX, as JSON.
type Event struct {
	// Type is newCall, answer or hangup.
	Type string `json:"event"`
	// CallID is the PBX's id of the call, the same in all its events.
	CallID string `json:"callId"`
	// EventID, optional, identifies this event; a repeated event id is a
	// duplicate whatever its timestamp.
	EventID string `json:"eventId,omitempty"`
	// Time is when the event happened at the PBX (RFC 3339); optional,
	// the time of receipt when absent.
	Time *time.Time `json:"time,omitempty"`
	// newCall: the calling and called numbers, the direction, the queue
	// (hunt group, ACD queue) and the caller's IVR menu choice.
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Direction string `json:"direction,omitempty"`
	Queue     string `json:"queue,omitempty"`
	IVRChoice string `json:"ivrChoice,omitempty"`
	// answer: the Sportello operator id of who took the call, and their
	// extension (informative).
	Operator  string `json:"operator,omitempty"`
	Extension string `json:"extension,omitempty"`
	// hangup: why the call ended, how long it lasted in seconds (from
	// answer; 0 when never answered) and where its recording is.
	Cause        string `json:"cause,omitempty"`
	Duration     *int   `json:"duration,omitempty"`
	RecordingURL string `json:"recordingUrl,omitempty"`
}

// ErrUnknownType marks an event whose type is not newCall, answer or hangup.
var ErrUnknownType = errors.New("unknown event type")

// Decode parses and checks one event body. Errors say what is wrong in
// words a PBX integrator can act on; ErrUnknownType is wrapped for an
// event type this version does not know.
func Decode(body []byte) (Event, error) {
	var e Event
	if !utf8.Valid(body) {
		return e, errors.New("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("the body is not a valid JSON event: %s", jsonProblem(err))
	}
	if dec.More() {
		return e, errors.New("the body has data after the JSON object")
	}
	return e, e.check()
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case strings.Contains(err.Error(), "parsing time"):
		return "field \"time\" must be an RFC 3339 time"
	}
	return "malformed JSON"
}

// check validates the fields the event type needs and normalises them.
func (e *Event) check() error {
	switch e.Type {
	case TypeNewCall, TypeAnswer, TypeHangup:
	case "":
		return errors.New(`field "event" is required (newCall, answer or hangup)`)
	default:
		return fmt.Errorf("%w %q: want newCall, answer or hangup", ErrUnknownType, truncate(e.Type, 40))
	}
	if err := token("callId", e.CallID, maxIDBytes, true); err != nil {
		return err
	}
	if err := token("eventId", e.EventID, maxIDBytes, false); err != nil {
		return err
	}
	switch e.Type {
	case TypeNewCall:
		if e.Direction == "" {
			e.Direction = Inbound
		}
		if e.Direction != Inbound && e.Direction != Outbound {
			return fmt.Errorf(`field "direction" must be inbound or outbound, not %q`, truncate(e.Direction, 40))
		}
		var err error
		if e.From, err = number("from", e.From, true); err != nil {
			return err
		}
		if e.To, err = number("to", e.To, e.Direction == Outbound); err != nil {
			return err
		}
		if err := token("queue", e.Queue, maxNameBytes, false); err != nil {
			return err
		}
		if err := token("ivrChoice", e.IVRChoice, maxNameBytes, false); err != nil {
			return err
		}
	case TypeAnswer:
		if err := token("operator", e.Operator, maxIDBytes, true); err != nil {
			return err
		}
		if err := token("extension", e.Extension, maxNameBytes, false); err != nil {
			return err
		}
	case TypeHangup:
		if e.Cause == "" {
			return fmt.Errorf(`field "cause" is required (%s)`, strings.Join(Causes, ", "))
		}
		if !slices.Contains(Causes, e.Cause) {
			return fmt.Errorf(`field "cause" %q: want one of %s`, truncate(e.Cause, 40), strings.Join(Causes, ", "))
		}
		if e.Duration != nil && (*e.Duration < 0 || *e.Duration > maxDuration) {
			return fmt.Errorf(`field "duration" must be 0 to %d seconds`, maxDuration)
		}
		if e.RecordingURL != "" {
			if len(e.RecordingURL) > maxURLBytes || !(strings.HasPrefix(e.RecordingURL, "https://") || strings.HasPrefix(e.RecordingURL, "http://")) ||
				strings.ContainsFunc(e.RecordingURL, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return fmt.Errorf(`field "recordingUrl" must be an http(s) URL of at most %d bytes`, maxURLBytes)
			}
		}
	}
	if e.Type != TypeNewCall && (e.From != "" || e.To != "" || e.Queue != "" || e.IVRChoice != "" || e.Direction != "") {
		return fmt.Errorf("fields from, to, direction, queue and ivrChoice belong to newCall, not %s", e.Type)
	}
	if e.Type != TypeAnswer && (e.Operator != "" || e.Extension != "") {
		return fmt.Errorf("fields operator and extension belong to answer, not %s", e.Type)
	}
	if e.Type != TypeHangup && (e.Cause != "" || e.Duration != nil || e.RecordingURL != "") {
		return fmt.Errorf("fields cause, duration and recordingUrl belong to hangup, not %s", e.Type)
	}
	return nil
}

// token checks an identifier: printable ASCII without spaces.
func token(field, v string, max int, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("field %q is required", field)
	case len(v) > max:
		return fmt.Errorf("field %q is longer than %d bytes", field, max)
	case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }):
		return fmt.Errorf("field %q must be printable ASCII without spaces", field)
	}
	return nil
}

// number checks a telephone number and normalises it to a leading "+"
// and digits ("+39 06 4673-1" is "+390646731"). "anonymous" stands for a
// withheld number and is kept as is.
func number(field, v string, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return "", fmt.Errorf("field %q is required", field)
		}
		return "", nil
	}
	if strings.EqualFold(v, Anonymous) {
		return Anonymous, nil
	}
	if len(v) > maxNumberBytes {
		return "", fmt.Errorf("field %q is longer than %d bytes", field, maxNumberBytes)
	}
	var b strings.Builder
	for i, r := range v {
		switch {
		case unicode.IsDigit(r) && r < 0x80:
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("field %q must be a telephone number (digits, a leading +, spaces, dashes), or %q", field, Anonymous)
		}
	}
	n := b.String()
	digits := len(strings.TrimPrefix(n, "+"))
	if digits < 2 || digits > 20 {
		return "", fmt.Errorf("field %q must have 2 to 20 digits", field)
	}
	// A public number is written as every channel writes it (national
	// numbers get +39), so the caller is found; an extension stays as is.
	if e164 := phone.Normalise(n); e164 != "" {
		return e164, nil
	}
	return n, nil
}

// Anonymous is the number of a caller who withheld it.
const Anonymous = "anonymous"

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
