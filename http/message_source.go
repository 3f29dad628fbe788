package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/store"
)

// How long a message source's URL works: the reference's 12 hours when
// long_lived is asked for, else long enough to start a download.
const (
	sourceURLLife     = 10 * time.Minute
	sourceURLLongLife = 12 * time.Hour
)

// sourceLabel binds sealed source tokens to their use.
const sourceLabel = "message-source"

// sourceToken is what a source URL carries, sealed: whose audio, until
// when. Sealing both signs and hides it, so a URL can be neither forged
// nor read for IDs.
type sourceToken struct {
	OrgID   string `json:"o"`
	BlobID  string `json:"b"`
	Expires int64  `json:"e"`
}

// writeMessageSource answers a voice message's source: a URL Compadre
// serves itself, with the token in its path, and when it stops working.
func (s *Server) writeMessageSource(w http.ResponseWriter, r *http.Request, m store.Message) error {
	blob, err := s.store.GetBlob(r.Context(), m.OrgID, *m.SourceBlobID)
	if err != nil {
		return err
	}
	life := sourceURLLife
	if long := queryBool(r, "long_lived"); long != nil && *long {
		life = sourceURLLongLife
	}
	expires := s.now().Add(life)
	plain, err := json.Marshal(sourceToken{OrgID: m.OrgID, BlobID: blob.ID, Expires: expires.Unix()})
	if err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(s.sealer.Seal(plain, sourceLabel))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url":          scheme + "://" + r.Host + "/audio/" + token,
		"expires_at":   apiTime(expires),
		"content_type": blob.ContentType,
	})
	return nil
}

// downloadAudio serves the audio a source URL names, while the URL lasts.
// Every failure is the same 404, so a URL tells nothing once it is wrong
// or stale.
func (s *Server) downloadAudio(w http.ResponseWriter, r *http.Request) error {
	gone := notFound("The link is invalid or has expired.")
	sealed, err := base64.RawURLEncoding.DecodeString(mux.Vars(r)["token"])
	if err != nil {
		return gone
	}
	plain, err := s.sealer.Open(sealed, sourceLabel)
	if err != nil {
		return gone
	}
	var tok sourceToken
	if err := json.Unmarshal(plain, &tok); err != nil || s.now().Unix() > tok.Expires {
		return gone
	}
	blob, err := s.store.GetBlob(r.Context(), tok.OrgID, tok.BlobID)
	if err != nil {
		return gone
	}
	w.Header().Set("Content-Type", blob.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(blob.Data)))
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(blob.Data)
	return nil
}
