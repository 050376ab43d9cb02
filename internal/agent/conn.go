package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Environment variables a process reads its NATS secrets from, so they
// never appear in a command line or a plan.
const (
	EnvUser     = "REGIONDRILL_NATS_USER"
	EnvPassword = "REGIONDRILL_NATS_PASSWORD"
	EnvToken    = "REGIONDRILL_NATS_TOKEN"
)

// ErrAuth is returned when the NATS server refuses a process's credentials.
var ErrAuth = errors.New("the NATS server refused these credentials")

// Auth is how a process proves who it is to NATS: a credentials file (JWT
// and nkey seed), an nkey seed file, a token, or a user and password; and
// the CA of the servers' certificates when they are not signed by a public
// one. TLS itself is on when the URL says tls:// or the server requires it.
type Auth struct {
	Creds    string
	NKey     string
	Token    string
	User     string
	Password string
	TLSCA    string
}

// FromEnv fills the token, user and password from the environment where
// they are not set. tokenEnv names the token's variable ("" = EnvToken).
func (a Auth) FromEnv(tokenEnv string) Auth {
	if tokenEnv == "" {
		tokenEnv = EnvToken
	}
	if a.Token == "" {
		a.Token = os.Getenv(tokenEnv)
	}
	if a.User == "" {
		a.User, a.Password = os.Getenv(EnvUser), os.Getenv(EnvPassword)
	}
	return a
}

func (a Auth) options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case a.Creds != "":
		if _, err := os.Stat(a.Creds); err != nil {
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(a.Creds))
	case a.NKey != "":
		o, err := nats.NkeyOptionFromSeed(a.NKey)
		if err != nil {
			return nil, fmt.Errorf("nkey seed file %s: %w", a.NKey, err)
		}
		opts = append(opts, o)
	case a.Token != "":
		opts = append(opts, nats.Token(a.Token))
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	return opts, nil
}

// Connect dials NATS with a's credentials. The connection reconnects for
// ever (quickly: a restarted server or a cluster peer is back within a
// second) and buffers what is published meanwhile. A refused credential
// fails at once with ErrAuth.
func Connect(url, name string, a Auth, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := a.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second), nats.Timeout(5*time.Second),
		nats.PingInterval(2*time.Second), nats.MaxPingsOutstanding(3))
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if isAuthError(err) {
			return nil, fmt.Errorf("connect to %s: %w (%v)", redact(url), ErrAuth, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", redact(url), err)
	}
	return nc, nil
}

func isAuthError(err error) bool {
	for _, e := range []error{nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked, nats.ErrAccountAuthExpired} {
		if errors.Is(err, e) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// redact drops a password from a URL's user info before it is printed.
func redact(url string) string {
	var out []string
	for _, u := range strings.Split(url, ",") {
		if at := strings.LastIndexByte(u, '@'); at >= 0 {
			if i := strings.Index(u, "://"); i >= 0 && i < at {
				u = u[:i+3] + "***" + u[at:]
			}
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}
