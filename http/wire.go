package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// Wire types shared by several resources. Field names follow the API
// reference exactly; they are kept apart from the store's row types so a
// schema change cannot silently change the API.

type preferences struct {
	EnableResponseRecommendation bool     `json:"enable_response_recommendation"`
	PreferredLanguage            *string  `json:"preferred_language"`
	ConversationsVisibleToAdmins bool     `json:"conversations_visible_to_admins"`
	UserModelVisibleToAdmins     bool     `json:"user_model_visible_to_admins"`
	Timezone                     *string  `json:"timezone"`
	AudioKeyterms                []string `json:"audio_keyterms"`
}

func preferencesOut(p store.Preferences) preferences {
	kt := p.AudioKeyterms
	if kt == nil {
		kt = []string{}
	}
	return preferences{
		EnableResponseRecommendation: p.EnableResponseRecommendation,
		PreferredLanguage:            p.PreferredLanguage,
		ConversationsVisibleToAdmins: p.ConversationsVisibleToAdmins,
		UserModelVisibleToAdmins:     p.UserModelVisibleToAdmins,
		Timezone:                     p.Timezone,
		AudioKeyterms:                kt,
	}
}

// preferencesIn is a preferences object in a request: every field optional,
// defaulting as the reference says.
type preferencesIn struct {
	EnableResponseRecommendation *bool    `json:"enable_response_recommendation"`
	PreferredLanguage            *string  `json:"preferred_language"`
	ConversationsVisibleToAdmins *bool    `json:"conversations_visible_to_admins"`
	UserModelVisibleToAdmins     *bool    `json:"user_model_visible_to_admins"`
	Timezone                     *string  `json:"timezone"`
	AudioKeyterms                []string `json:"audio_keyterms"`
}

// toStore applies the defaults and checks the time zone; loc is where the
// object sits in the request body, for the error.
func (p *preferencesIn) toStore(loc ...any) (store.Preferences, error) {
	out := store.DefaultPreferences()
	if p == nil {
		return out, nil
	}
	if p.EnableResponseRecommendation != nil {
		out.EnableResponseRecommendation = *p.EnableResponseRecommendation
	}
	if p.ConversationsVisibleToAdmins != nil {
		out.ConversationsVisibleToAdmins = *p.ConversationsVisibleToAdmins
	}
	if p.UserModelVisibleToAdmins != nil {
		out.UserModelVisibleToAdmins = *p.UserModelVisibleToAdmins
	}
	out.PreferredLanguage = p.PreferredLanguage
	if p.Timezone != nil {
		if err := checkTimezone(*p.Timezone, append(loc, "timezone")...); err != nil {
			return store.Preferences{}, err
		}
		out.Timezone = p.Timezone
	}
	if p.AudioKeyterms != nil {
		out.AudioKeyterms = p.AudioKeyterms
	}
	return out, nil
}

// checkTimezone accepts a name from the IANA time zone database (embedded in
// the binary, so the host's copy does not matter).
func checkTimezone(tz string, loc ...any) error {
	if tz == "" || tz == "Local" {
		return validationFailed(fieldError{Loc: loc, Msg: "Unknown time zone " + strconv.Quote(tz), Type: "enum"})
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return validationFailed(fieldError{Loc: loc, Msg: "Unknown time zone " + strconv.Quote(tz), Type: "enum"})
	}
	return nil
}

type userDimension struct {
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

func dimensionsOut(ds []store.UserDimension) []userDimension {
	out := make([]userDimension, len(ds))
	for i, d := range ds {
		out[i] = userDimension{Description: d.Description, Tags: d.Tags}
		if out[i].Tags == nil {
			out[i].Tags = []string{}
		}
	}
	return out
}

func dimensionsIn(ds []userDimension) []store.UserDimension {
	out := make([]store.UserDimension, len(ds))
	for i, d := range ds {
		out[i] = store.UserDimension{Description: d.Description, Tags: d.Tags}
	}
	return out
}

// apiTime formats a time as RFC 3339 in UTC with microseconds, which both
// official SDKs parse as a timezone-aware time.
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// Query accessors for values the validator has already checked and converted.

func queryInt(r *http.Request, name string) int {
	switch v := state(r.Context()).query[name].(type) {
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	case float64:
		return int(v)
	}
	return 0
}

func queryString(r *http.Request, name string) string {
	s, _ := state(r.Context()).query[name].(string)
	return s
}

func queryStrings(r *http.Request, name string) []string {
	vs, _ := state(r.Context()).query[name].([]any)
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// sortKeys parses sort_by values ("+field", "-field" or "field").
func sortKeys(r *http.Request, valid func(string) bool) ([]store.SortKey, error) {
	var keys []store.SortKey
	for i, raw := range queryStrings(r, "sort_by") {
		k := store.SortKey{Field: raw}
		switch {
		case len(raw) > 0 && raw[0] == '-':
			k = store.SortKey{Field: raw[1:], Desc: true}
		case len(raw) > 0 && raw[0] == '+':
			k.Field = raw[1:]
		}
		if !valid(k.Field) {
			return nil, validationFailed(fieldError{Loc: []any{"query", "sort_by", i},
				Msg: "Unsupported sort field " + strconv.Quote(k.Field), Type: "value_error", Input: raw})
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// versionRange reads the version parameter of the get-…-versions lists: a
// number, `latest`, or an inclusive range from a number to a number or
// `latest` (2-5, 1-latest). Empty selects every version.
func versionRange(r *http.Request) (store.VersionRange, error) {
	raw := queryString(r, "version")
	var vr store.VersionRange
	bad := validationFailed(fieldError{Loc: []any{"query", "version"}, Type: "value_error", Input: raw,
		Msg: "A version is a number or latest, or a range from a number to a number or latest whose lower bound " +
			"is at most its upper bound, such as 2-5 or 1-latest"})
	number := func(s string) (*int, bool) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || strings.HasPrefix(s, "+") {
			return nil, false
		}
		return &n, true
	}
	switch lo, hi, isRange := strings.Cut(raw, "-"); {
	case raw == "":
	case raw == "latest":
		vr.Latest = true
	case !isRange:
		n, ok := number(lo)
		if !ok {
			return vr, bad
		}
		vr.Min, vr.Max = n, n
	default:
		var ok bool
		if vr.Min, ok = number(lo); !ok {
			return vr, bad
		}
		if hi != "latest" {
			if vr.Max, ok = number(hi); !ok || *vr.Max < *vr.Min {
				return vr, bad
			}
		}
	}
	return vr, nil
}
