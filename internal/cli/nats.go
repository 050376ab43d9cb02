package cli

import (
	"fmt"
	"github.com/regiondrill/regiondrill/internal/natsauth"
	"os"

	"github.com/regiondrill/regiondrill/internal/plan"
)

// natsCredentials turns a plan's NATS credentials into connect credentials,
// reading the password from its environment variable: secrets stay out of
// plans, journals and command lines.
func natsCredentials(path string, a plan.NATSAuth) (natsauth.Credentials, error) {
	c := natsauth.Credentials{User: a.User, CredsFile: a.CredsFile, NKeyFile: a.NKeyFile}
	if a.User == "" {
		return c, nil
	}
	env := a.PasswordEnv
	if env == "" {
		env = plan.DefaultNATSPasswordEnv
	}
	if c.Password = os.Getenv(env); c.Password == "" {
		return c, fmt.Errorf("%s.nats_auth: NATS user %q needs its password in the %s environment variable", path, a.User, env)
	}
	return c, nil
}
