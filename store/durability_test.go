package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestDurabilitySetsSynchronous(t *testing.T) {
	// PRAGMA synchronous reads 1 for NORMAL and 2 for FULL.
	tests := []struct {
		name string
		opts []Option
		want int
	}{
		{name: "default is full", want: 2},
		{name: "full", opts: []Option{WithDurability(DurabilityFull)}, want: 2},
		{name: "normal", opts: []Option{WithDurability(DurabilityNormal)}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, tt.opts...)
			var got int
			if err := s.write.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("synchronous: got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOpenRefusesUnknownDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(context.Background(), path, WithDurability("OFF"))
	if err == nil {
		s.Close()
		t.Fatal("got no error for durability OFF, want one")
	}
	if _, err := ParseDurability("off"); err == nil {
		t.Error(`ParseDurability("off"): got no error, want one`)
	}
}

// BenchmarkDurability measures one committed write at a time (create-user:
// one transaction inserting one row) under each durability, on the file
// system of the test's temporary directory. Point TMPDIR at the disk the
// data directory lives on for figures that mean something.
//
//	go test ./store -run '^$' -bench Durab -count 6
func BenchmarkDurability(b *testing.B) {
	for _, d := range []Durability{DurabilityNormal, DurabilityFull} {
		b.Run("create-user/"+string(d), func(b *testing.B) {
			s := openTest(b, WithDurability(d))
			admin := newOrg(b, s, "bench")
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				_, err := s.CreateUser(ctx, User{OrgID: "bench", FirstName: "U", LastName: "V",
					Email: fmt.Sprintf("u%d@bench.example", i), RoleID: admin.RoleID, Preferences: DefaultPreferences()})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
