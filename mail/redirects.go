package mail

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Why RedirectPolicy.Check refuses a redirect link.
var (
	ErrRedirectNotHTTP      = errors.New("mail: a redirect link must be an absolute http or https URL")
	ErrRedirectCredentials  = errors.New("mail: a redirect link must not carry credentials")
	ErrRedirectCarriesToken = errors.New("mail: a redirect link must not carry a sign-in token")
	ErrRedirectOrigin       = errors.New("mail: the redirect link's origin is not allowed")
)

// RedirectPolicy says where the links sign-in-with-email mails may lead.
// A link carries its token to that address, so were every address allowed,
// anyone could have a link for someone else's email sent on to a site of
// theirs. Allowed are the server's own origin, loopback origins (which
// reach only the machine of whoever follows the link), and the origins the
// operator lists (--sign-in-redirects). See DECISIONS.md, "Where may a
// sign-in link lead?".
type RedirectPolicy struct {
	// Base is the server's own base URL.
	Base string
	// Origins are further allowed origins, as ParseOrigins returns them.
	Origins []string
}

// Check returns why redirect may not be the target of a sign-in link, or
// nil. It depends on nothing but the link and the policy.
func (p RedirectPolicy) Check(redirect string) error {
	u, err := url.Parse(redirect)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return ErrRedirectNotHTTP
	}
	if u.User != nil {
		return ErrRedirectCredentials
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil || q.Has(SignInTokenParam) {
		return ErrRedirectCarriesToken
	}
	o := origin(u)
	if isLoopback(u.Hostname()) {
		return nil
	}
	if base, err := url.Parse(p.Base); err == nil && base.Host != "" && origin(base) == o {
		return nil
	}
	for _, allowed := range p.Origins {
		if allowed == o {
			return nil
		}
	}
	return ErrRedirectOrigin
}

// origin is a URL's scheme, host and port, in one spelling: lowercase, the
// port always written.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// ParseOrigins reads a comma-separated list of origins such as
// "https://app.example.com,http://10.0.0.5:3000"; an empty list is none.
func ParseOrigins(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("mail: %q is not an origin such as https://app.example.com", s)
		}
		out = append(out, origin(u))
	}
	return out, nil
}
