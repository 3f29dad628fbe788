package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/sosodev/duration"
	"golang.org/x/crypto/argon2"
)

// HashCost is how much work argon2id does to hash a new API-key secret.
// Every hash records its own settings, so secrets hashed at any cost verify
// on any server. The zero value is StandardHashCost.
type HashCost int

const (
	// StandardHashCost is the OWASP minimum (19 MiB, 2 passes). Secrets are
	// 256 random bits, not passwords, so the hash guards a leaked database
	// rather than a guessable secret, and a sign-in stays cheap. `compadre
	// serve` always uses it. See DECISIONS.md, "Why these argon2id settings?".
	StandardHashCost HashCost = iota
	// FixtureHashCost is argon2id's smallest settings (8 KiB, 1 pass), for
	// test servers whose keys guard a temporary data directory. See
	// DECISIONS.md, "Why may test servers hash keys cheaply?".
	FixtureHashCost
)

func (c HashCost) params() *argon2id.Params {
	if c == FixtureHashCost {
		return &argon2id.Params{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	}
	return &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Hash returns the argon2id hash kept in place of secret.
func (c HashCost) Hash(secret string) (string, error) {
	h, err := argon2id.CreateHash(secret, c.params())
	if err != nil {
		return "", fmt.Errorf("auth: hash secret: %w", err)
	}
	return h, nil
}

// Decoy returns a hash at this cost that no secret matches (its key is all
// zeros, which argon2id yields with negligible probability). Verifying a
// secret against it costs as much as against a real hash, so an unknown key
// ID cannot be told from a wrong secret by timing; building it hashes
// nothing.
func (c HashCost) Decoy() string {
	p := c.params()
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		enc.EncodeToString(make([]byte, p.SaltLength)), enc.EncodeToString(make([]byte, p.KeyLength)))
}

// NewAPIKey returns a fresh public key ID and secret.
func NewAPIKey() (keyID, secret string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return uuid.NewString(), base64.RawURLEncoding.EncodeToString(b[:])
}

// Bounds on an API key's lifetime.
const (
	MinKeyLifetime = 24 * time.Hour
	MaxKeyLifetime = 90 * 24 * time.Hour
)

// ErrKeyLifetime means a key lifetime is not an ISO 8601 duration of 1 to 90 days.
var ErrKeyLifetime = errors.New("the duration must be an ISO 8601 duration between 1 and 90 days")

// KeyLifetime parses an ISO 8601 duration and checks it is an allowed API
// key lifetime.
func KeyLifetime(iso string) (time.Duration, error) {
	d, err := duration.Parse(iso)
	if err != nil || d.Negative {
		return 0, ErrKeyLifetime
	}
	lifetime := d.ToTimeDuration()
	if lifetime < MinKeyLifetime || lifetime > MaxKeyLifetime {
		return 0, ErrKeyLifetime
	}
	return lifetime, nil
}

// HashSecret returns the argon2id hash kept in place of secret, at
// StandardHashCost.
func HashSecret(secret string) (string, error) { return StandardHashCost.Hash(secret) }

// VerifySecret reports, in constant time, whether secret matches hash.
func VerifySecret(secret, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(secret, hash)
	return err == nil && ok
}

// LoadOrCreateKey returns the size-byte key kept in the file at path,
// creating the file with a random key (mode 0600) when it does not exist.
func LoadOrCreateKey(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != size {
			return nil, fmt.Errorf("auth: key file %s holds %d bytes, want %d", path, len(b), size)
		}
		return b, nil
	}
	if !os.IsNotExist(err) {
		return nil, fmt.Errorf("auth: read key: %w", err)
	}
	key := make([]byte, size)
	_, _ = rand.Read(key)
	if err := WriteFileAtomic(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("auth: write key: %w", err)
	}
	return key, nil
}

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, so a crash leaves either the old file or the new one, never a torn one.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
