// Package pgcluster runs the project-local PostgreSQL cluster that `make run`
// and `make test` use when no DATABASE_URL is configured. It uses the
// machine's PostgreSQL server binaries (Debian: /usr/lib/postgresql/*/bin),
// creates the cluster on first use, and starts it when it is not running.
// PostgreSQL refuses to run as root, so a root caller runs it as an
// unprivileged system user.
package pgcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a local PostgreSQL cluster rooted at a directory.
type Cluster struct {
	// Dir holds the cluster: data/, run/ (sockets), postgres.log and port.
	Dir string
	// BinDir holds initdb, pg_ctl and postgres.
	BinDir string
	// Port is the TCP port on 127.0.0.1 the cluster listens on.
	Port int

	owner *user.User // nil: run as the caller
	log   *slog.Logger
}

// Ensure makes sure the cluster under dataDir (the project's .data) exists
// and runs, and returns a DSN for its "postgres" database. It is safe to call
// from several processes at once.
func Ensure(ctx context.Context, dataDir string, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	unlock, err := lockFile(filepath.Join(abs, "postgres.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{BinDir: binDir, log: log}
	if os.Geteuid() == 0 {
		if c.owner, err = unprivilegedUser(); err != nil {
			return nil, err
		}
	}
	c.Dir = filepath.Join(abs, "postgres")
	if c.owner != nil && !traversable(abs, c.owner) {
		// The unprivileged user cannot reach the project directory (say, a
		// checkout under /root): keep the cluster in a shared location,
		// one per project directory.
		sum := sha256.Sum256([]byte(abs))
		c.Dir = filepath.Join(os.TempDir(), "assistloop-pg-"+hex.EncodeToString(sum[:6]))
		log.Info("project directory not reachable by the database user; cluster moved", "dir", c.Dir)
	}
	if err := c.create(ctx); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// DSN returns the connection URL of a database of the cluster.
func (c *Cluster) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// FindBinDir locates the PostgreSQL server binaries: $PG_BIN_DIR, the newest
// /usr/lib/postgresql/*/bin, or the directory of initdb on $PATH.
func FindBinDir() (string, error) {
	if d := os.Getenv("PG_BIN_DIR"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgcluster: PostgreSQL server binaries not found (install the postgresql package, or set PG_BIN_DIR or DATABASE_URL)")
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }
func (c *Cluster) runDir() string  { return filepath.Join(c.Dir, "run") }
func (c *Cluster) logFile() string { return filepath.Join(c.Dir, "postgres.log") }
func (c *Cluster) portFile() string {
	return filepath.Join(c.Dir, "port")
}

func (c *Cluster) create(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); err == nil {
		return c.readPort()
	}
	c.log.Info("creating local PostgreSQL cluster", "dir", c.Dir)
	if err := os.RemoveAll(c.dataDir()); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{c.Dir, c.runDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := c.chown(d); err != nil {
			return err
		}
	}
	out, err := c.command(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--no-locale", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.Port = port
	return os.WriteFile(c.portFile(), []byte(strconv.Itoa(port)+"\n"), 0o644)
}

func (c *Cluster) readPort() error {
	b, err := os.ReadFile(c.portFile())
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	c.Port, err = strconv.Atoi(strings.TrimSpace(string(b)))
	return err
}

// running reports whether the cluster's server is up and accepting
// connections on its port.
func (c *Cluster) running(ctx context.Context) bool {
	if c.command(ctx, "pg_ctl", "status", "-D", c.dataDir()).Run() != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (c *Cluster) start(ctx context.Context) error {
	if c.running(ctx) {
		return nil
	}
	if !portFree(c.Port) {
		// Something else took the port since the cluster was created.
		port, err := freePort()
		if err != nil {
			return err
		}
		c.Port = port
		if err := os.WriteFile(c.portFile(), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			return err
		}
	}
	c.log.Info("starting local PostgreSQL", "port", c.Port, "log", c.logFile())
	opts := strings.Join([]string{
		"-p", strconv.Itoa(c.Port),
		"-k", c.runDir(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=400",
		"-c", "shared_buffers=256MB",
		// A development cluster: losing the last few commits in a crash is
		// acceptable, waiting for fsync on every commit is not.
		"-c", "synchronous_commit=off",
	}, " ")
	// pg_ctl's server outlives this process on purpose: it is the project's
	// development database, shared by `make run` and every test package.
	cmd := c.command(ctx, "pg_ctl", "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60", "-o", opts)
	cmd.SysProcAttr.Setpgid = true // not killed with the caller's process group
	if out, err := cmd.CombinedOutput(); err != nil {
		tail, _ := os.ReadFile(c.logFile())
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("pgcluster: pg_ctl start: %w\n%s\n%s", err, out, tail)
	}
	return nil
}

// Stop stops the cluster's server if it runs.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.running(ctx) {
		return nil
	}
	out, err := c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// command runs a PostgreSQL binary as the cluster's owner.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.owner != nil {
		uid, _ := strconv.Atoi(c.owner.Uid)
		gid, _ := strconv.Atoi(c.owner.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		cmd.Dir = c.Dir
		cmd.Env = append(cmd.Env, "HOME="+c.Dir)
	}
	return cmd
}

func (c *Cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.owner.Uid)
	gid, _ := strconv.Atoi(c.owner.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// unprivilegedUser picks the account a root caller runs PostgreSQL as: the
// distribution's "postgres" user, else "nobody".
func unprivilegedUser() (*user.User, error) {
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return u, nil
		}
	}
	return nil, errors.New("pgcluster: running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

// traversable reports whether u can reach dir: every ancestor must be
// searchable by u.
func traversable(dir string, u *user.User) bool {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		switch {
		case !ok:
			return false
		case int(st.Uid) == uid:
			if mode&0o100 == 0 {
				return false
			}
		case int(st.Gid) == gid:
			if mode&0o010 == 0 {
				return false
			}
		default:
			if mode&0o001 == 0 {
				return false
			}
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// freePort finds a free TCP port on 127.0.0.1, preferring 54329 and its
// neighbours so the port is easy to recognise.
func freePort() (int, error) {
	for p := 54329; p < 54400; p++ {
		if portFree(p) {
			return p, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// lockFile takes an exclusive lock on path, waiting for other holders.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("pgcluster: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Exists reports whether a cluster was ever created under dataDir.
func Exists(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "postgres", "data", "PG_VERSION"))
	return !errors.Is(err, fs.ErrNotExist)
}
