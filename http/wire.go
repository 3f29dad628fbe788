package httpapi

import (
	"strconv"
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
