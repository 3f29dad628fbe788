package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A cached principal is forgotten when the clock passes its key's or its
// earliest temporary grant's expiry, though no write happened.
func TestCachedPrincipalExpiresByTheClock(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	s := openTest(t, WithClock(clock))
	admin := newOrg(t, s, "a")
	start := clock()
	key := newKey(t, s, admin, start.Add(time.Hour))
	if _, err := s.CreateTemporaryGrant(ctx, TemporaryGrant{OrgID: "a", UserID: admin.ID, Justification: "for the test",
		Grant: PermissionGrant{PermissionName: "User:DeleteUser"}, Creator: Actor{OrgID: "a", UserID: admin.ID}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		p, err := s.Principal(ctx, "a", admin.ID, key.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Grants)
	}
	if got := count(); got != 2 {
		t.Fatalf("grants with the temporary one: %d, want 2", got)
	}
	set(start.Add(time.Minute - time.Microsecond))
	if got := count(); got != 2 {
		t.Fatalf("grants just before the temporary one expires: %d, want 2", got)
	}
	set(start.Add(time.Minute))
	if got := count(); got != 1 {
		t.Errorf("grants once the temporary one expired: %d, want 1 (a cached answer outlived it)", got)
	}
	// The key's expiry bounds the cached answer too: past it the lookup
	// reads again (and the caller, not the store, refuses the expired key).
	if e, ok := s.cache.principal(principalKey{"a", admin.ID, key.KeyID}, start.Add(time.Hour)); ok {
		t.Errorf("cached principal %v served at its key's expiry", e.Email)
	}
}

// A lookup that read before a write committed must not keep its answer.
func TestLookupReadBeforeAWriteIsNotKept(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	admin := newOrg(t, s, "a")
	key := newKey(t, s, admin, time.Now().Add(time.Hour))
	// As Principal does, interleaved with a delete by hand.
	gen := s.cache.generation()
	p, until, err := s.readPrincipal(ctx, "a", admin.ID, key.KeyID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAPIKey(ctx, "a", key.KeyID); err != nil {
		t.Fatal(err)
	}
	s.cache.putPrincipal(gen, principalKey{"a", admin.ID, key.KeyID}, p, until)
	if _, err := s.Principal(ctx, "a", admin.ID, key.KeyID); !errors.Is(err, ErrNotFound) {
		t.Errorf("principal of a deleted key: got %v, want ErrNotFound (a stale answer was kept)", err)
	}
	if _, err := s.GetOrganization(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	dims := []UserDimension{{Description: "tier", Tags: []string{"gold"}}}
	if err := s.UpdateOrganization(ctx, "a", OrganizationPatch{UserDimensions: &dims}); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.GetOrganization(ctx, "a"); len(o.UserDimensions) != 1 {
		t.Errorf("organization after an update: dimensions %v, want the new one", o.UserDimensions)
	}
}
