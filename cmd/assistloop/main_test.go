package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/pgcluster"
)

// TestEmbeddedDefaultFromEmptyDataDir is `make run` on a fresh machine: no
// DATABASE_URL and an empty data directory. serve must create and start the
// local cluster, migrate, load the demo, print a banner whose curl line
// works, and on a second start find the demo already there.
func TestEmbeddedDefaultFromEmptyDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a PostgreSQL cluster")
	}
	dir := t.TempDir()
	// PostgreSQL may run as another user when the test runs as root: let it
	// reach the directory, as it can reach a checkout.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dataDir := filepath.Join(dir, ".data")
	env := map[string]string{"ASSISTLOOP_DATA_DIR": dataDir, "ADDR": "127.0.0.1:0", "LOG_LEVEL": "warn"}
	t.Cleanup(func() {
		if c, err := pgcluster.Ensure(context.Background(), dataDir, nil); err == nil {
			_ = c.Stop(context.Background())
		}
	})

	out, stop := startServe(t, env)
	baseURL := waitFor(t, out, regexp.MustCompile(`AssistLoop is running at (http://\S+)`))[1]
	var banner []string
	for len(banner) == 0 || !strings.Contains(banner[len(banner)-1], "playground") {
		banner = append(banner, readLine(t, out))
	}
	text := strings.Join(banner, "\n")
	for _, want := range []string{"demo@assistloop.example / assistloop-demo", "cli_demo_make", "alat_", "https://www.make.com/oauth/cb/app"} {
		if !strings.Contains(text, want) {
			t.Errorf("banner lacks %q:\n%s", want, text)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "data", "PG_VERSION")); err != nil {
		t.Errorf("the cluster is not under the data directory: %v", err)
	}

	// Run the banner's curl line exactly as printed.
	var curl string
	for _, line := range banner {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "curl ") {
			curl = l
		}
	}
	if curl == "" || !strings.Contains(curl, baseURL) {
		t.Fatalf("no curl line for %s in the banner:\n%s", baseURL, text)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is not installed: %v", err)
	}
	body, err := exec.Command("sh", "-c", curl+" --fail-with-body").Output()
	if err != nil {
		t.Fatalf("the banner's curl failed: %v\n%s", err, body)
	}
	var me struct{ UUID, Name, Email string }
	if err := json.Unmarshal(body, &me); err != nil || me.Email != "demo@assistloop.example" || !strings.HasPrefix(me.UUID, "usr_") {
		t.Errorf("curl answered %s (%v), want the demo user", body, err)
	}
	stop()

	// Second start: the demo exists; no new banner, a hint instead.
	out, stop = startServe(t, env)
	waitFor(t, out, regexp.MustCompile(`AssistLoop is running at (http://\S+)`))
	if line := readLine(t, out); !strings.Contains(line, "assistloop demo") {
		t.Errorf("second start printed %q, want the hint to run the demo command", line)
	}
	stop()
}

// startServe runs `assistloop serve` in-process with env and returns its
// stdout lines and a function that stops it (SIGTERM's path: ctx ends).
func startServe(t *testing.T, env map[string]string) (<-chan string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, w, io.Discard)
		w.Close()
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of its context ending")
		}
	}
	t.Cleanup(stop)
	return lines, stop
}

func readLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("serve exited")
		}
		return l
	case <-time.After(90 * time.Second):
		t.Fatal("serve printed nothing for 90s")
	}
	return ""
}

func waitFor(t *testing.T, lines <-chan string, re *regexp.Regexp) []string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(readLine(t, lines)); m != nil {
			return m
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"user", "delete"}, {"client"}, {"migrate", "extra"}, {"serve", "--nope"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if _, ok := err.(usageError); !ok {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"ADDR": "nonsense", "LOG_LEVEL": "loud"}[k]
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ADDR") || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("bad configuration: %v, want both problems listed", err)
	}
}
