package app

import (
	"context"
	"errors"
	"net/http"

	httpapi "github.com/compadre-dev/compadre/http"
	"github.com/compadre-dev/compadre/store"
)

// controlState is the app's state as the control API acts on it: reset
// and snapshots, with their failures answered with the status each calls
// for.
type controlState struct{ a *App }

func (c controlState) Reset(ctx context.Context, org string) error {
	return controlFailure(c.a.Reset(ctx, org))
}

func (c controlState) Snapshot(ctx context.Context, name string) (httpapi.SnapshotInfo, error) {
	info, err := c.a.Snapshot(ctx, name)
	return snapshotInfo(info), controlFailure(err)
}

func (c controlState) Restore(ctx context.Context, name string) error {
	return controlFailure(c.a.Restore(ctx, name))
}

func (c controlState) Snapshots(ctx context.Context) ([]httpapi.SnapshotInfo, error) {
	infos, err := c.a.Snapshots(ctx)
	out := make([]httpapi.SnapshotInfo, len(infos))
	for i, info := range infos {
		out[i] = snapshotInfo(info)
	}
	return out, controlFailure(err)
}

func (c controlState) DeleteSnapshot(ctx context.Context, name string) error {
	return controlFailure(c.a.DeleteSnapshot(ctx, name))
}

func snapshotInfo(i SnapshotInfo) httpapi.SnapshotInfo {
	return httpapi.SnapshotInfo{Name: i.Name, CreatedAt: i.CreatedAt, Bytes: i.Bytes, Refs: i.Refs}
}

// controlFailure gives the app's refusals their statuses: a bad name 400,
// an unknown snapshot or organization 404, requests that would not finish
// 503 (the client may try again).
func controlFailure(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSnapshotName):
		return httpapi.ControlError(http.StatusBadRequest, "A snapshot name is 1 to 64 letters, digits, - and _, starting with a letter or digit.")
	case errors.Is(err, ErrSnapshotNotFound):
		return httpapi.ControlError(http.StatusNotFound, "No snapshot has this name.")
	case errors.Is(err, store.ErrNotFound):
		return httpapi.ControlError(http.StatusNotFound, "No organization has this ID.")
	case errors.Is(err, ErrRequestsInFlight):
		return httpapi.ControlError(http.StatusServiceUnavailable, "Requests in flight did not finish in time; nothing was changed.")
	}
	return err
}
