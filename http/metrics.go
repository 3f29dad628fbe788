package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/config"
	"github.com/compadre-dev/compadre/store"
)

func metricAttrs(m store.Metric) auth.Attributes {
	return auth.Attributes{auth.AttrOrgID: m.OrgID, auth.AttrMetricID: m.ID, auth.AttrName: m.Name}
}

// loadMetric finds the metric named in the path, deleted or not (404), and
// checks the caller holds perm for it (403).
func (s *Server) loadMetric(r *http.Request, perm auth.Permission) (store.Metric, error) {
	id, err := idParam(r, "metric_id")
	if err != nil {
		return store.Metric{}, err
	}
	st := state(r.Context())
	m, err := s.store.GetMetric(r.Context(), st.org.ID, id)
	if err != nil {
		return store.Metric{}, err
	}
	if err := st.allow(perm, metricAttrs(m)); err != nil {
		return store.Metric{}, err
	}
	return m, nil
}

// metricVersionIn is a version's content as create-metric and
// create-metric-version carry it.
type metricVersionIn struct {
	Description string               `json:"description"`
	MetricValue config.MetricValueIn `json:"metric_value"`
}

// check checks the content found at loc and returns it as the store keeps
// it, adding its faults to fe.
func (in metricVersionIn) check(fe *faults, loc ...any) store.MetricVersion {
	desc := fe.Stripped(in.Description, extend(loc, "description")...)
	v := in.MetricValue.Check(fe, extend(loc, "metric_value"))
	raw, _ := json.Marshal(v)
	return store.MetricVersion{Description: desc, ValueType: v.Type, Value: raw}
}

type createMetricRequest struct {
	Name              string             `json:"name"`
	AppliedToServices []string           `json:"applied_to_services"`
	AdditionalNotes   *string            `json:"additional_notes"`
	Tags              map[string]*string `json:"tags"`
	InitialVersion    metricVersionIn    `json:"initial_version_metric_value"`
}

// createMetric creates a metric with its first version. The caller needs
// Metric:CreateMetric for the metric's name.
func (s *Server) createMetric(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createMetricRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	m := store.Metric{
		ID: store.NewID(), OrgID: st.org.ID, Name: fe.Stripped(req.Name, "body", "name"),
		AppliedToServices: uniqueStrings(req.AppliedToServices),
		Tags:              dynamicBehaviorTags(&fe, req.Tags, "body", "tags"), Creator: actor(r),
	}
	if req.AdditionalNotes != nil {
		notes := fe.Stripped(*req.AdditionalNotes, "body", "additional_notes")
		m.AdditionalNotes = &notes
	}
	first := req.InitialVersion.check(&fe, "body", "initial_version_metric_value")
	if err := fe.Err(); err != nil {
		return err
	}
	m.ValueType, first.Creator = first.ValueType, m.Creator
	if err := st.allow(auth.MetricCreateMetric, auth.Attributes{auth.AttrOrgID: m.OrgID, auth.AttrName: m.Name}); err != nil {
		return err
	}
	created, err := s.store.CreateMetric(ctx, m, first)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": created.ID})
	return nil
}

type metricInstance struct {
	ID                string      `json:"id"`
	OrgID             string      `json:"org_id"`
	Name              string      `json:"name"`
	AppliedToServices []string    `json:"applied_to_services"`
	AdditionalNotes   *string     `json:"additional_notes"`
	Tags              []store.Tag `json:"tags"`
	Creator           userInfo    `json:"creator"`
	UpdatedBy         userInfo    `json:"updated_by"`
	MetricValueType   string      `json:"metric_value_type"`
	IsDeleted         bool        `json:"is_deleted"`
	CreatedAt         string      `json:"created_at"`
	UpdatedAt         string      `json:"updated_at"`
}

func metricOut(m store.Metric) metricInstance {
	return metricInstance{
		ID: m.ID, OrgID: m.OrgID, Name: m.Name, AppliedToServices: m.AppliedToServices,
		AdditionalNotes: m.AdditionalNotes, Tags: m.Tags,
		Creator:         userInfo{OrgID: m.Creator.OrgID, UserID: m.Creator.UserID},
		UpdatedBy:       userInfo{OrgID: m.UpdatedBy.OrgID, UserID: m.UpdatedBy.UserID},
		MetricValueType: m.ValueType, IsDeleted: m.IsDeleted, CreatedAt: apiTime(m.CreatedAt), UpdatedAt: apiTime(m.UpdatedAt),
	}
}

// metricFilter reads the filters get-metrics and search-metrics share.
func metricFilter(r *http.Request) (store.MetricFilter, error) {
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return store.MetricFilter{}, err
	}
	creators, err := creatorFilters(r)
	if err != nil {
		return store.MetricFilter{}, err
	}
	return store.MetricFilter{Types: queryStrings(r, "type"), AppliedToServices: queryStrings(r, "applied_to_service"),
		Creators: creators, Tags: tags}, nil
}

// visibleMetrics keeps the metrics the caller holds perm for.
func visibleMetrics(r *http.Request, perm auth.Permission, ms []store.Metric) []store.Metric {
	grants := state(r.Context()).principal.Grants
	out := []store.Metric{}
	for _, m := range ms {
		if auth.Allowed(grants, perm, metricAttrs(m)) {
			out = append(out, m)
		}
	}
	return out
}

type metricFilterValues struct {
	AppliedToServicesIDs []string   `json:"applied_to_services_ids"`
	Creators             []userInfo `json:"creators"`
	Tags                 []string   `json:"tags"`
	Types                []string   `json:"types"`
}

// metricFilterValuesOf lists the services, creators, tag keys and value
// types found among the metrics, each once, in a stable order.
func metricFilterValuesOf(ms []store.Metric) *metricFilterValues {
	fv := &metricFilterValues{AppliedToServicesIDs: []string{}, Creators: []userInfo{}, Tags: []string{}, Types: []string{}}
	creators := map[userInfo]bool{}
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, m := range ms {
		for _, svc := range m.AppliedToServices {
			add(&fv.AppliedToServicesIDs, svc)
		}
		c := userInfo{OrgID: m.Creator.OrgID, UserID: m.Creator.UserID}
		if !creators[c] {
			creators[c] = true
			fv.Creators = append(fv.Creators, c)
		}
		for _, t := range m.Tags {
			add(&fv.Tags, t.Key)
		}
		add(&fv.Types, m.ValueType)
	}
	sort.Strings(fv.AppliedToServicesIDs)
	sort.Strings(fv.Tags)
	sort.Strings(fv.Types)
	slices.SortFunc(fv.Creators, func(a, b userInfo) int {
		return strings.Compare(a.OrgID+"/"+a.UserID, b.OrgID+"/"+b.UserID)
	})
	return fv
}

// getMetrics lists the metrics matching the filters that the caller holds
// Metric:GetMetric for; deleted ones only when is_deleted asks for them.
// Visibility is decided per metric, so the page is cut after filtering;
// filter_values, as the reference says, count every matching metric.
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	f, err := metricFilter(r)
	if err != nil {
		return err
	}
	if f.Sort, err = sortKeys(r, store.ValidMetricSortField); err != nil {
		return err
	}
	f.IDs = queryStrings(r, "id")
	deleted := false
	if b := queryBool(r, "is_deleted"); b != nil {
		deleted = *b
	}
	f.IsDeleted = &deleted
	all, err := s.store.ListMetrics(ctx, st.org.ID, f)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	ms, more := page(visibleMetrics(r, auth.MetricGetMetric, all), offset, queryInt(r, "limit"))
	out := make([]metricInstance, len(ms))
	for i, m := range ms {
		out[i] = metricOut(m)
	}
	var fv *metricFilterValues
	if offset == 0 {
		fv = metricFilterValuesOf(all)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"metrics": out, "has_more": more, "continuation_token": nextToken(offset, len(ms), more), "filter_values": fv,
	})
	return nil
}

// maxMetricSearchResults is how many metrics a search returns at most.
const maxMetricSearchResults = 50

// metricSearchInstance is a metric as search-metrics returns it: the
// reference's Metric schema, whose ID is _id. Its fields are
// metricInstance's, so one converts to the other.
type metricSearchInstance struct {
	ID                string      `json:"_id"`
	OrgID             string      `json:"org_id"`
	Name              string      `json:"name"`
	AppliedToServices []string    `json:"applied_to_services"`
	AdditionalNotes   *string     `json:"additional_notes"`
	Tags              []store.Tag `json:"tags"`
	Creator           userInfo    `json:"creator"`
	UpdatedBy         userInfo    `json:"updated_by"`
	MetricValueType   string      `json:"metric_value_type"`
	IsDeleted         bool        `json:"is_deleted"`
	CreatedAt         string      `json:"created_at"`
	UpdatedAt         string      `json:"updated_at"`
}

// searchMetrics finds live metrics by the words of their names.
func (s *Server) searchMetrics(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	query, err := strippedNonEmpty(queryString(r, "query"), "query", "query")
	if err != nil {
		return err
	}
	f, err := metricFilter(r)
	if err != nil {
		return err
	}
	live := false
	f.IsDeleted = &live
	found, err := s.store.SearchMetrics(ctx, st.org.ID, query, f)
	if err != nil {
		return err
	}
	ms, _ := page(visibleMetrics(r, auth.MetricGetMetric, found), 0, maxMetricSearchResults)
	out := make([]metricSearchInstance, len(ms))
	for i, m := range ms {
		out[i] = metricSearchInstance(metricOut(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": out})
	return nil
}

type updateMetricRequest struct {
	AppliedToServices *[]string           `json:"applied_to_services"`
	AdditionalNotes   json.RawMessage     `json:"additional_notes"`
	Tags              *map[string]*string `json:"tags"`
}

// notesChange reads an optional text field of an update, such as
// update-metric's additional_notes: absent or {} (the reference's NotSet)
// leaves the text, null clears it, a string replaces it.
func notesChange(fe *faults, raw json.RawMessage, field string) (set bool, notes *string) {
	trimmed := bytes.TrimSpace(raw)
	switch {
	case len(trimmed) == 0, trimmed[0] == '{':
		// The document allows only an empty object here.
		return false, nil
	case bytes.Equal(trimmed, []byte("null")):
		return true, nil
	}
	var s string
	if err := json.Unmarshal(trimmed, &s); err != nil {
		fe.Add([]any{"body", field}, "string_type", "Input should be a valid string, null or {}")
		return false, nil
	}
	s = fe.Stripped(s, "body", field)
	return true, &s
}

// updateMetric changes the services, notes and tags the request gives and
// nothing else; a metric's name and value type never change.
func (s *Server) updateMetric(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	id, err := idParam(r, "metric_id")
	if err != nil {
		return err
	}
	var req updateMetricRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	setNotes, notes := notesChange(&fe, req.AdditionalNotes, "additional_notes")
	var tags []store.Tag
	if req.Tags != nil {
		tags = dynamicBehaviorTags(&fe, *req.Tags, "body", "tags")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	err = s.store.UpdateMetric(ctx, st.org.ID, id, actor(r), func(m *store.Metric) error {
		if err := st.allow(auth.MetricModifyMetric, metricAttrs(*m)); err != nil {
			return err
		}
		if req.AppliedToServices != nil {
			m.AppliedToServices = uniqueStrings(*req.AppliedToServices)
		}
		if setNotes {
			m.AdditionalNotes = notes
		}
		if req.Tags != nil {
			m.Tags = tags
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// deleteMetric marks the metric deleted; it stays readable by its ID.
func (s *Server) deleteMetric(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	id, err := idParam(r, "metric_id")
	if err != nil {
		return err
	}
	err = s.store.DeleteMetric(ctx, st.org.ID, id, actor(r), func(m store.Metric) error {
		return st.allow(auth.MetricDeleteMetric, metricAttrs(m))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (s *Server) createMetricVersion(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	if _, err := idParam(r, "metric_id"); err != nil {
		return err
	}
	var req metricVersionIn
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var fe faults
	v := req.check(&fe, "body")
	if err := fe.Err(); err != nil {
		return err
	}
	m, err := s.loadMetric(r, auth.MetricModifyMetric)
	if err != nil {
		return err
	}
	var want *int
	if st.query["version"] != nil {
		n := queryInt(r, "version")
		want = &n
	}
	v.Creator = actor(r)
	created, err := s.store.CreateMetricVersion(ctx, m.OrgID, m.ID, v, want)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]int{"version": created.Version})
	return nil
}

type metricVersionInstance struct {
	MetricID    string          `json:"metric_id"`
	Version     int             `json:"version"`
	Description string          `json:"description"`
	MetricValue json.RawMessage `json:"metric_value"`
	Creator     userInfo        `json:"creator"`
	CreatedAt   string          `json:"created_at"`
}

func (s *Server) getMetricVersions(w http.ResponseWriter, r *http.Request) error {
	m, err := s.loadMetric(r, auth.MetricGetMetric)
	if err != nil {
		return err
	}
	vr, err := versionRange(r)
	if err != nil {
		return err
	}
	sortBy, err := sortKeys(r, store.ValidMetricVersionSortField)
	if err != nil {
		return err
	}
	offset := max(0, queryInt(r, "continuation_token"))
	versions, more, err := s.store.ListMetricVersions(r.Context(), m.OrgID, m.ID, store.VersionFilter{
		Range: vr, Sort: sortBy, Limit: queryInt(r, "limit"), Offset: offset,
	})
	if err != nil {
		return err
	}
	out := make([]metricVersionInstance, len(versions))
	for i, v := range versions {
		out[i] = metricVersionInstance{MetricID: v.MetricID, Version: v.Version, Description: v.Description,
			MetricValue: v.Value, Creator: userInfo{OrgID: v.Creator.OrgID, UserID: v.Creator.UserID},
			CreatedAt: apiTime(v.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"metric_versions": out, "has_more": more, "continuation_token": nextToken(offset, len(out), more),
	})
	return nil
}
