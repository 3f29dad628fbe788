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

// Labels bind sealed blob tokens to their use, so a token made for one
// kind of link cannot open another.
const (
	sourceLabel    = "message-source"
	artifactsLabel = "simulation-artifacts"
)

// blobToken is what a blob URL carries, sealed: whose blob, until when.
// Sealing both signs and hides it, so a URL can be neither forged nor read
// for IDs.
type blobToken struct {
	OrgID   string `json:"o"`
	BlobID  string `json:"b"`
	Expires int64  `json:"e"`
}

// blobURL makes a URL under path (with its slashes) that serves the blob
// for life, sealed with label.
func (s *Server) blobURL(r *http.Request, label, path, orgID, blobID string, life time.Duration) (string, time.Time, error) {
	expires := s.now().Add(life)
	plain, err := json.Marshal(blobToken{OrgID: orgID, BlobID: blobID, Expires: expires.Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(s.sealer.Seal(plain, label))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path + token, expires, nil
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
	url, expires, err := s.blobURL(r, sourceLabel, "/audio/", m.OrgID, blob.ID, life)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url":          url,
		"expires_at":   apiTime(expires),
		"content_type": blob.ContentType,
	})
	return nil
}

// serveBlob serves the blob a URL made with label names, while the URL
// lasts: the audio of a message source, a simulation run's artifacts.
func (s *Server) serveBlob(label string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		gone := notFound("The link is invalid or has expired.")
		sealed, err := base64.RawURLEncoding.DecodeString(mux.Vars(r)["token"])
		if err != nil {
			return gone
		}
		plain, err := s.sealer.Open(sealed, label)
		if err != nil {
			return gone
		}
		var tok blobToken
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
}
