package history_test

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/regiondrill/regiondrill/internal/fixture"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pg.stop()
	os.Exit(code)
}

// pg is one PostgreSQL server for the package's tests, started by the first
// test that needs it; each test gets its own database on it.
var pg struct {
	once sync.Once
	url  string // of the server's "postgres" database
	skip string // why there is no server
	err  error
	stop func()
	n    atomic.Int32
}

func init() { pg.stop = func() {} }

// postgresDB returns the URL of a new, empty database on the shared server.
func postgresDB(t *testing.T) string {
	t.Helper()
	pg.once.Do(func() { pg.url, pg.skip, pg.err = startPostgres() })
	if pg.skip != "" {
		t.Skip(pg.skip)
	}
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	name := fmt.Sprintf("t%d", pg.n.Add(1))
	db, err := sql.Open("pgx", pg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(pg.url, "/postgres?", "/"+name+"?", 1)
}

// pgBinary finds a PostgreSQL server program on PATH or in Debian's
// versioned directory.
func pgBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	slices.Sort(found)
	if len(found) == 0 {
		return ""
	}
	return found[len(found)-1]
}

// startPostgres runs a throwaway PostgreSQL server on 127.0.0.1 and a
// random port and returns its URL. PostgreSQL refuses to run as root, so as
// root the cluster belongs to, and the server runs as, the "postgres" user
// that Debian's package creates.
func startPostgres() (url, skip string, err error) {
	initdb, server := pgBinary("initdb"), pgBinary("postgres")
	if initdb == "" || server == "" {
		return "", "PostgreSQL is not installed (apt-get install postgresql); skipping the PostgreSQL history test", nil
	}
	base, err := os.MkdirTemp("", "regiondrill-pg-")
	if err != nil {
		return "", "", err
	}
	cleanup := func() { os.RemoveAll(base) }
	pg.stop = cleanup
	if err := os.Chmod(base, 0o755); err != nil {
		return "", "", err
	}
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", "", err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", "running as root and there is no postgres user to run PostgreSQL as", nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(data, uid, gid); err != nil {
			return "", "", err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		c.Dir = base
		c.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
		if cred != nil {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return c
	}
	start := time.Now()
	if out, err := command(initdb, "-D", data, "-U", "regiondrill", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", "", err
	}
	srv := command(server, "-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	stderr, err := srv.StderrPipe()
	if err != nil {
		return "", "", err
	}
	if err := srv.Start(); err != nil {
		return "", "", err
	}
	pg.stop = func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		_ = srv.Wait()
		cleanup()
	}
	// The server says when it accepts connections; no polling.
	if err := fixture.WaitLine(stderr, "ready to accept connections", 60*time.Second); err != nil {
		return "", "", fmt.Errorf("postgres: %w", err)
	}
	real, _ := filepath.EvalSymlinks(server)
	fmt.Fprintf(os.Stderr, "history tests: %s ready on 127.0.0.1:%d in %v\n", real, port, time.Since(start).Round(time.Millisecond))
	return fmt.Sprintf("postgres://regiondrill@127.0.0.1:%d/postgres?sslmode=disable", port), "", nil
}

// freePort asks the kernel for a free loopback port. PostgreSQL binds it
// itself, so the port is released first; a clash shows as a start failure.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
