// Package natsauth holds the credentials a NATS client connects with: the
// lab's embedded servers, an external broker named by a plan, the agents.
package natsauth

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Credentials authenticate a NATS client: User and Password, or a
// credentials file (JWT and nkey seed, CredsFile), or an nkey seed file
// (NKeyFile); at most one of the three. The zero value connects anonymously.
// The lab's embedded servers accept exactly one user and password.
type Credentials struct {
	User      string
	Password  string
	CredsFile string
	NKeyFile  string
}

// ErrCredentials means credentials are incomplete or mix two methods.
var ErrCredentials = errors.New("nats credentials")

// IsZero reports whether c authenticates nobody.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// String describes c without its secrets.
func (c Credentials) String() string {
	switch {
	case c.CredsFile != "":
		return "creds file " + c.CredsFile
	case c.NKeyFile != "":
		return "nkey seed file " + c.NKeyFile
	case c.User != "":
		return "user " + c.User
	}
	return "anonymous"
}

// Options returns the nats.go connect options of c. A problem (two methods,
// a user without a password, an unreadable seed file) surfaces as the
// connect error.
func (c Credentials) Options() []nats.Option {
	methods := 0
	for _, set := range []bool{c.User != "" || c.Password != "", c.CredsFile != "", c.NKeyFile != ""} {
		if set {
			methods++
		}
	}
	fail := func(format string, args ...any) []nats.Option {
		err := fmt.Errorf("%w: "+format, append([]any{ErrCredentials}, args...)...)
		return []nats.Option{func(*nats.Options) error { return err }}
	}
	switch {
	case methods > 1:
		return fail("set one of user and password, a creds file or an nkey seed file")
	case c.User != "" && c.Password == "", c.User == "" && c.Password != "":
		return fail("a user needs a password and a password a user")
	case c.User != "":
		return []nats.Option{nats.UserInfo(c.User, c.Password)}
	case c.CredsFile != "":
		return []nats.Option{nats.UserCredentials(c.CredsFile)}
	case c.NKeyFile != "":
		return []nats.Option{func(o *nats.Options) error { // read the seed when connecting
			opt, err := nats.NkeyOptionFromSeed(c.NKeyFile)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrCredentials, err)
			}
			return opt(o)
		}}
	}
	return nil
}
