//go:build ignore

// mutants applies each mutation of scripts/mutants.txt, one at a time, to a
// scratch copy of the repository and runs the tests named for it: every
// mutation must make them fail. Run it through scripts/mutants (make
// mutants), which provides the PostgreSQL the tests need.
//
//	go run scripts/mutants.go [-list FILE] [-no-baseline] [-check] [NAME…]
//
// NAMEs pick mutants by exact name or by a substring of it; none runs them
// all. The scratch copy lives in .tmp/mutants/src (the working tree as it
// is, uncommitted changes included), the output of each run in
// .tmp/mutants/logs.
//
// A mutant is:
//
//   - caught when its tests fail;
//   - survived when they pass: the suite would not notice that breakage;
//   - broken when the mutated code does not build: a bug in the list.
//
// Before any mutant, each distinct test command runs once on the unmutated
// copy and must pass having run at least one test, or a "caught" would mean
// nothing. A mutation whose text is not found exactly once stops the run
// before it starts: a stale mutant is a bug in the list too.
//
// The exit status is 0 only when every mutant was caught.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// edit replaces find, which must occur exactly once in file, with replace.
type edit struct {
	file, find, replace string
}

// mutant is one deliberate breakage and the tests that must notice it.
type mutant struct {
	name, why string
	// tests are argument lists for go test (packages, -run pattern…). The
	// mutant is caught as soon as one of them fails.
	tests [][]string
	edits []edit
	line  int // where it starts in the list, for error messages
}

func main() {
	listPath := flag.String("list", "scripts/mutants.txt", "the list of mutations")
	noBaseline := flag.Bool("no-baseline", false, "skip checking that the tests pass unmutated")
	check := flag.Bool("check", false, "only check that every mutation still applies, then exit")
	timeout := flag.Duration("timeout", 10*time.Minute, "go test -timeout for each run")
	flag.Parse()

	root, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fatal(errors.New("run from the repository root (make mutants does)"))
	}
	all, err := parseList(*listPath)
	if err != nil {
		fatal(err)
	}
	chosen := pick(all, flag.Args())
	if len(chosen) == 0 {
		fatal(fmt.Errorf("no mutant matches %q", flag.Args()))
	}
	if err := checkEdits(root, chosen); err != nil {
		fatal(err)
	}
	if *check {
		fmt.Printf("mutants: all %d mutations apply\n", len(chosen))
		return
	}
	if os.Getenv("HERALD_TEST_DATABASE_URL") == "" {
		fatal(errors.New("HERALD_TEST_DATABASE_URL is not set: run scripts/mutants (make mutants), which starts a throwaway PostgreSQL"))
	}

	work := filepath.Join(root, ".tmp", "mutants")
	src := filepath.Join(work, "src")
	logs := filepath.Join(work, "logs")
	if err := copyTree(root, src); err != nil {
		fatal(fmt.Errorf("scratch copy: %w", err))
	}
	if err := os.RemoveAll(logs); err != nil {
		fatal(err)
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		fatal(err)
	}
	r := &runner{src: src, logs: logs, timeout: *timeout}
	started := time.Now()

	if !*noBaseline {
		if err := r.baseline(chosen); err != nil {
			fatal(err)
		}
	}

	results := make([]result, 0, len(chosen))
	for i, m := range chosen {
		fmt.Printf("mutants: [%d/%d] %s … ", i+1, len(chosen), m.name)
		res := r.run(m)
		fmt.Printf("%s (%s)\n", res.verdict, res.took.Round(time.Second))
		results = append(results, res)
	}
	os.Exit(report(os.Stdout, results, time.Since(started)))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutants:", err)
	os.Exit(2)
}

// parseList reads the list format described at the top of mutants.txt.
func parseList(path string) ([]mutant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		list []mutant
		cur  *mutant
		file string
		n    int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	errAt := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, n, fmt.Sprintf(format, args...))
	}
	// block reads verbatim lines up to the terminator line.
	block := func(until string) (string, error) {
		var lines []string
		for sc.Scan() {
			n++
			if sc.Text() == until {
				return strings.Join(lines, "\n"), nil
			}
			lines = append(lines, sc.Text())
		}
		return "", errAt("missing %q", until)
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		if key != "mutant" && cur == nil {
			return nil, errAt("%q before any mutant", key)
		}
		switch key {
		case "mutant":
			if value == "" {
				return nil, errAt("mutant without a name")
			}
			list = append(list, mutant{name: value, line: n})
			cur, file = &list[len(list)-1], ""
		case "why":
			cur.why = value
		case "test":
			args, err := splitArgs(value)
			if err != nil || len(args) == 0 {
				return nil, errAt("bad test line: %v", err)
			}
			cur.tests = append(cur.tests, args)
		case "file":
			file = value
		case "find":
			if file == "" {
				return nil, errAt("find before file")
			}
			find, err := block("replace")
			if err != nil {
				return nil, err
			}
			replace, err := block("end")
			if err != nil {
				return nil, err
			}
			if find == "" {
				return nil, errAt("empty find text")
			}
			cur.edits = append(cur.edits, edit{file: file, find: find, replace: replace})
		default:
			return nil, errAt("unknown keyword %q", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, m := range list {
		switch {
		case seen[m.name]:
			return nil, fmt.Errorf("%s:%d: mutant %s listed twice", path, m.line, m.name)
		case len(m.tests) == 0 || len(m.edits) == 0 || m.why == "":
			return nil, fmt.Errorf("%s:%d: mutant %s needs why, test and at least one file/find/replace", path, m.line, m.name)
		}
		seen[m.name] = true
	}
	return list, nil
}

// splitArgs splits a test line on spaces, honouring single quotes.
func splitArgs(s string) ([]string, error) {
	var (
		args   []string
		cur    strings.Builder
		quoted bool
		inArg  bool
	)
	for _, c := range s {
		switch {
		case c == '\'':
			quoted, inArg = !quoted, true
		case c == ' ' && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(c)
			inArg = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

func pick(all []mutant, names []string) []mutant {
	if len(names) == 0 {
		return all
	}
	var out []mutant
	for _, m := range all {
		for _, n := range names {
			if m.name == n || strings.Contains(m.name, n) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// checkEdits makes sure every mutation still applies to the tree as it is.
func checkEdits(root string, list []mutant) error {
	var stale []string
	for _, m := range list {
		for _, e := range m.edits {
			b, err := os.ReadFile(filepath.Join(root, e.file))
			if err != nil {
				stale = append(stale, fmt.Sprintf("%s: %v", m.name, err))
				continue
			}
			if c := bytes.Count(b, []byte(e.find)); c != 1 {
				stale = append(stale, fmt.Sprintf("%s: the text to replace occurs %d times in %s (want exactly once):\n%s",
					m.name, c, e.file, indent(e.find)))
			}
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("stale mutants (fix scripts/mutants.txt):\n%s", strings.Join(stale, "\n"))
	}
	return nil
}

func indent(s string) string { return "    | " + strings.ReplaceAll(s, "\n", "\n    | ") }

// copyTree copies the files git knows of (tracked or not ignored) from root
// to dst, replacing whatever dst held.
func copyTree(root, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		from := filepath.Join(root, name)
		info, err := os.Lstat(from)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := copyFile(from, to, info.Mode()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

type runner struct {
	src, logs string
	timeout   time.Duration
}

type verdict string

const (
	caught   verdict = "caught"
	survived verdict = "SURVIVED"
	broken   verdict = "BROKEN"
)

type result struct {
	mutant  mutant
	verdict verdict
	took    time.Duration
	// failed names the tests that failed (caught) or why the mutant is
	// broken.
	failed []string
	log    string
}

var (
	buildFailed = regexp.MustCompile(`\[(build|setup) failed\]`)
	noTests     = regexp.MustCompile(`(?m)^(ok|\?)\s+(\S+).*\[no tests to run\]`)
	failedTest  = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	timedOut    = regexp.MustCompile(`panic: test timed out`)
)

// goTest runs go test with args in the scratch copy, its output going to
// logPath, and returns the output and whether it passed.
func (r *runner) goTest(args []string, logPath string) (string, bool, error) {
	cmdArgs := append([]string{"test", "-count=1", "-timeout", r.timeout.String()}, args...)
	cmd := exec.Command("go", cmdArgs...)
	cmd.Dir = r.src
	cmd.Env = append(os.Environ(), "HERALD_ARTIFACTS_DIR="+filepath.Join(r.src, "artifacts"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return "", false, fmt.Errorf("go %s: %w", strings.Join(cmdArgs, " "), err)
	}
	text := "$ go " + strings.Join(cmdArgs, " ") + "\n" + out.String()
	if werr := appendFile(logPath, text); werr != nil {
		return "", false, werr
	}
	return text, err == nil, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// baseline runs each distinct test command once on the unmutated copy.
func (r *runner) baseline(list []mutant) error {
	var cmds [][]string
	for _, m := range list {
		for _, args := range m.tests {
			if !slices.ContainsFunc(cmds, func(c []string) bool { return slices.Equal(c, args) }) {
				cmds = append(cmds, args)
			}
		}
	}
	logPath := filepath.Join(r.logs, "baseline.log")
	for i, args := range cmds {
		fmt.Printf("mutants: baseline [%d/%d] go test %s … ", i+1, len(cmds), strings.Join(args, " "))
		start := time.Now()
		out, ok, err := r.goTest(args, logPath)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Println("FAIL")
			return fmt.Errorf("the unmutated tests fail (go test %s); see %s", strings.Join(args, " "), logPath)
		}
		if m := noTests.FindStringSubmatch(out); m != nil {
			fmt.Println("no tests")
			return fmt.Errorf("go test %s runs no test in %s: fix its -run pattern", strings.Join(args, " "), m[2])
		}
		fmt.Printf("ok (%s)\n", time.Since(start).Round(time.Second))
	}
	return nil
}

// run applies m to the scratch copy, runs its tests and restores the copy.
func (r *runner) run(m mutant) (res result) {
	res = result{mutant: m, log: filepath.Join(r.logs, m.name+".log")}
	start := time.Now()
	defer func() { res.took = time.Since(start) }()

	originals := map[string][]byte{}
	defer func() {
		for file, b := range originals {
			if err := os.WriteFile(filepath.Join(r.src, file), b, 0o644); err != nil {
				fatal(fmt.Errorf("restore %s: %w", file, err))
			}
		}
	}()
	for _, e := range m.edits {
		path := filepath.Join(r.src, e.file)
		b, err := os.ReadFile(path)
		if err != nil {
			fatal(err)
		}
		if _, ok := originals[e.file]; !ok {
			originals[e.file] = b
		}
		if bytes.Count(b, []byte(e.find)) != 1 {
			// Two edits of one mutant that overlap: a bug in the list.
			res.verdict, res.failed = broken, []string{"edits overlap in " + e.file}
			return res
		}
		b = bytes.Replace(b, []byte(e.find), []byte(e.replace), 1)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fatal(err)
		}
	}

	res.verdict = survived
	for _, args := range m.tests {
		out, ok, err := r.goTest(args, res.log)
		if err != nil {
			fatal(err)
		}
		if buildFailed.MatchString(out) {
			res.verdict, res.failed = broken, []string{"does not build: see " + res.log}
			return res
		}
		if !ok {
			res.verdict = caught
			for _, f := range failedTest.FindAllStringSubmatch(out, -1) {
				res.failed = append(res.failed, f[1])
			}
			if timedOut.MatchString(out) {
				res.failed = append(res.failed, "(timed out)")
			}
			return res
		}
	}
	return res
}

// report prints the table and the score and returns the exit status.
func report(w io.Writer, results []result, took time.Duration) int {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MUTANT\tRESULT\tTIME\tFAILED TESTS")
	n := 0
	for _, r := range results {
		if r.verdict == caught {
			n++
		}
		failed := strings.Join(topLevel(r.failed), " ")
		if r.verdict != caught {
			failed = strings.Join(r.failed, " ")
			if failed == "" {
				failed = "(none failed: " + r.mutant.why + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.mutant.name, r.verdict, r.took.Round(time.Second), failed)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nscore: %d/%d caught in %s (logs in .tmp/mutants/logs)\n", n, len(results), took.Round(time.Second))
	if n != len(results) {
		return 1
	}
	return 0
}

// topLevel keeps the parent test of each failed subtest, once: the subtest
// names are in the log.
func topLevel(names []string) []string {
	var out []string
	for _, n := range names {
		top, _, _ := strings.Cut(n, "/")
		if !slices.Contains(out, top) {
			out = append(out, top)
		}
	}
	return out
}
