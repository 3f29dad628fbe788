package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"image/png"
	"net/http"
	"regexp"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

type organizationResponse struct {
	OrgID                  string       `json:"org_id"`
	OrgName                string       `json:"org_name"`
	DefaultUserPreferences *preferences `json:"default_user_preferences"`
	TenantID               *string      `json:"tenant_id"`
}

// getOrganization answers without credentials too; the preferences and the
// tenant are shown only to a caller allowed to see the organization's details.
func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) error {
	st := state(r.Context())
	org := st.org
	resp := organizationResponse{OrgID: org.ID, OrgName: org.Name}
	if st.principal != nil && auth.Allowed(st.principal.Grants, auth.OrganizationGetOrganizationDetails, orgAttrs(org.ID)) {
		p := preferencesOut(org.DefaultUserPreferences)
		resp.DefaultUserPreferences = &p
		tenant := org.ID
		if org.TenantID != nil {
			tenant = *org.TenantID
		}
		resp.TenantID = &tenant
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func orgAttrs(orgID string) auth.Attributes { return auth.Attributes{"org_id": orgID} }

type createOrganizationRequest struct {
	OrgName                string          `json:"org_name"`
	UserDimensions         []userDimension `json:"user_dimensions"`
	Logo                   string          `json:"logo"`
	SquareLogo             string          `json:"square_logo"`
	Favicon                string          `json:"favicon"`
	DefaultUserPreferences *preferencesIn  `json:"default_user_preferences"`
	AzureDevopsTeamName    string          `json:"azure_devops_team_name"`
}

// orgIDPattern is what an organization ID may look like: it is a URL segment
// and a host-name label on the hosted platform.
var orgIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// reservedOrgIDs cannot be created because they name parts of the platform.
var reservedOrgIDs = map[string]bool{"admin": true, "api": true, "www": true, "app": true, "openapi.json": true}

// createOrganization creates another organization. Its first user is a copy
// of the caller (same name and email) holding DefaultSuperAdministratorRole.
func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	orgID := mux.Vars(r)["organization"]
	if !orgIDPattern.MatchString(orgID) || reservedOrgIDs[orgID] {
		return badRequest("The organization ID " + orgID + " is reserved or not allowed: use 1 to 63 lowercase letters, digits and dashes.")
	}
	var req createOrganizationRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	logo, err := decodeImage(req.Logo, "logo", checkLogo)
	if err != nil {
		return err
	}
	square, err := decodeImage(req.SquareLogo, "square_logo", checkSquareLogo)
	if err != nil {
		return err
	}
	favicon, err := decodeImage(req.Favicon, "favicon", checkFavicon)
	if err != nil {
		return err
	}
	prefs, err := req.DefaultUserPreferences.toStore("body", "default_user_preferences")
	if err != nil {
		return err
	}
	creator, err := s.store.GetUser(ctx, st.principal.OrgID, st.principal.UserID)
	if err != nil {
		return err
	}
	team := req.AzureDevopsTeamName
	_, _, err = s.store.CreateOrganization(ctx, store.NewOrganization{
		Org: store.Organization{
			ID: orgID, Name: req.OrgName, DefaultUserPreferences: prefs, UserDimensions: dimensionsIn(req.UserDimensions),
			Logo: logo, SquareLogo: square, Favicon: favicon, AzureDevopsTeamName: &team,
		},
		Roles:     auth.BuiltinRoles(),
		Admin:     store.User{FirstName: creator.FirstName, LastName: creator.LastName, Email: creator.Email, Preferences: prefs},
		AdminRole: auth.DefaultSuperAdministratorRole,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"org_id": orgID})
	return nil
}

type modifyOrganizationRequest struct {
	Logo                   *string         `json:"logo"`
	SquareLogo             *string         `json:"square_logo"`
	Favicon                *string         `json:"favicon"`
	UserDimensions         []userDimension `json:"user_dimensions"`
	DefaultUserPreferences *preferencesIn  `json:"default_user_preferences"`
}

func (s *Server) modifyOrganization(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	org := state(ctx).org
	var req modifyOrganizationRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var p store.OrganizationPatch
	for _, img := range []struct {
		in    *string
		field string
		check func([]byte) error
		out   **[]byte
	}{
		{req.Logo, "logo", checkLogo, &p.Logo},
		{req.SquareLogo, "square_logo", checkSquareLogo, &p.SquareLogo},
		{req.Favicon, "favicon", checkFavicon, &p.Favicon},
	} {
		if img.in == nil {
			continue
		}
		b, err := decodeImage(*img.in, img.field, img.check)
		if err != nil {
			return err
		}
		*img.out = &b
	}
	if req.UserDimensions != nil {
		d := dimensionsIn(req.UserDimensions)
		p.UserDimensions = &d
	}
	if req.DefaultUserPreferences != nil {
		prefs, err := req.DefaultUserPreferences.toStore("body", "default_user_preferences")
		if err != nil {
			return err
		}
		p.DefaultUserPreferences = &prefs
	}
	if err := s.store.UpdateOrganization(ctx, org.ID, p); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deleteOrganization(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteOrganization(r.Context(), state(r.Context()).org.ID); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) getUserDimensions(w http.ResponseWriter, r *http.Request) error {
	org := state(r.Context()).org
	writeJSON(w, http.StatusOK, map[string]any{"user_dimensions": dimensionsOut(org.UserDimensions)})
	return nil
}

func decodeImage(b64, field string, check func([]byte) error) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// The schema's pattern admits only canonical base64, so this is
		// rare; the decoder's own text names Go's package, not the field.
		return nil, badRequest("The " + field + " is not valid: it must be base64")
	}
	if err := check(b); err != nil {
		return nil, badRequest("The " + field + " is not valid: " + err.Error())
	}
	return b, nil
}

// checkLogo wants a PNG of aspect ratio 5:2, at least 400 by 160 pixels.
func checkLogo(b []byte) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return errors.New("it must be a PNG image")
	}
	if cfg.Width < 400 || cfg.Height < 160 || cfg.Width*2 != cfg.Height*5 {
		return errors.New("it must have an aspect ratio of 5:2 and be at least 400 by 160 pixels")
	}
	return nil
}

// checkSquareLogo wants a square PNG of at least 40 by 40 pixels.
func checkSquareLogo(b []byte) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return errors.New("it must be a PNG image")
	}
	if cfg.Width != cfg.Height || cfg.Width < 40 {
		return errors.New("it must be square and at least 40 by 40 pixels")
	}
	return nil
}

// checkFavicon wants an ICO file whose largest image is square and at least
// 40 by 40 pixels. The ICO header is a 6-byte directory header followed by
// 16-byte entries whose first two bytes are width and height (0 means 256).
func checkFavicon(b []byte) error {
	if len(b) < 6 || binary.LittleEndian.Uint16(b[0:]) != 0 || binary.LittleEndian.Uint16(b[2:]) != 1 {
		return errors.New("it must be an ICO image")
	}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	if n == 0 || len(b) < 6+16*n {
		return errors.New("it must be an ICO image")
	}
	best := 0
	for i := 0; i < n; i++ {
		e := b[6+16*i:]
		w, h := int(e[0]), int(e[1])
		if w == 0 {
			w = 256
		}
		if h == 0 {
			h = 256
		}
		if w == h && w > best {
			best = w
		}
	}
	if best < 40 {
		return errors.New("it must hold a square image of at least 40 by 40 pixels")
	}
	return nil
}
