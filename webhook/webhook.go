// Package webhook delivers an organization's webhook events to its
// destinations: each delivery the store queued is POSTed as JSON, signed
// as the official SDKs verify (HMAC-SHA256 over "v1:{timestamp}:{body}"
// under the destination's secret), retried on the documented schedule
// with a fresh timestamp and the same idempotency key, and every attempt
// is recorded. Destinations are checked when saved and again when
// connected to, so a name that resolves to a private address later is
// still refused.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/compadre-dev/compadre/store"
)

// The headers every delivery carries.
const (
	HeaderIdempotencyKey = "x-amigo-idempotent-key"
	HeaderTimestamp      = "x-amigo-request-timestamp"
	HeaderSignature      = "x-amigo-request-signature"
)

// The event types the reference names.
const (
	TypePostProcessingComplete = store.PostProcessingCompleteEvent
	TypeAPIKeyExpirationSoon   = store.APIKeyExpirationEvent
	TypeResourceUpdated        = store.ResourceUpdatedEvent
)

// Types lists the event types, in the reference's order.
var Types = []string{TypePostProcessingComplete, TypeAPIKeyExpirationSoon, TypeResourceUpdated}

// Sign returns the signature of body sent at timestamp (Unix
// milliseconds): lowercase hex HMAC-SHA256 of "v1:{timestamp}:{body}"
// under secret.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v1:%d:", timestamp)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// NewSecret returns a new signing secret: 32 random bytes, base64url.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// Policy says which destinations may be reached.
type Policy struct {
	// Loopback allows plain http:// (and https://) to loopback addresses,
	// for local development and test fixtures.
	Loopback bool
	// PrivateNetworks allows private, link-local and other non-public
	// addresses (metadata services included).
	PrivateNetworks bool
}

// ErrRefused is a destination the policy does not allow.
var ErrRefused = errors.New("webhook: destination refused")

// CheckURL checks a destination's URL as it is saved: absolute, https (or
// http to a loopback host when the policy allows loopback), no user
// information, and, when its host is an address, an allowed one.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrRefused, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: the URL must not hold credentials", ErrRefused)
	}
	host := u.Hostname()
	loopback := host == "localhost"
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := p.checkAddr(addr); err != nil {
			return err
		}
		loopback = addr.Unmap().IsLoopback()
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback && p.Loopback:
	default:
		return fmt.Errorf("%w: the URL must be https", ErrRefused)
	}
	return nil
}

// cgnat is the shared address space (RFC 6598), private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func (p Policy) checkAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		if p.Loopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrRefused, addr)
	case addr.IsUnspecified(), addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrRefused, addr)
	case p.PrivateNetworks:
		return nil
	case addr.IsPrivate(), addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast(), cgnat.Contains(addr),
		addr.Is4() && addr.As4()[0] == 0:
		return fmt.Errorf("%w: %s is a private or link-local address", ErrRefused, addr)
	}
	return nil
}

// Client returns an HTTP client that connects only where the policy
// allows, checking each address as it connects (after name resolution),
// never follows redirects, and gives each request timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: %s is not an address", ErrRefused, host)
		}
		return p.checkAddr(addr)
	}}
	tr := &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends one signed request and returns the receiver's status code, or
// 0 when none came.
func post(ctx context.Context, client *http.Client, dest, key string, timestamp int64, signature string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Compadre-Webhooks")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	req.Header.Set(HeaderSignature, signature)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode
}
