package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// DeterministicDDIM says which ocm settings give diffusers' deterministic DDIM.
const DeterministicDDIM = `diffusers' deterministic DDIM (DDIMScheduler, eta 0) is
  --sampler ddim --eta 0 --variance-type small
With the default --variance-type ocm, DDIM's η = 0 step adds OCM's fitted
covariance (OCM-DDIM, docs/method.md §5), which is not diffusers' DDIM.`

// PrintHelp writes head, then every flag of fs under its group of Rules (flags the
// table does not know last), with two dashes, then diffusers' names and what they
// map to.
func PrintHelp(w io.Writer, fs *flag.FlagSet, head string) {
	f, _ := w.(*os.File)
	width := min(termWidth(f), 100)
	fmt.Fprint(w, head)
	seen := map[string]bool{}
	for _, g := range Groups {
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, r := range Rules {
			if fl := fs.Lookup(r.Flag); fl != nil && r.Group == g {
				printFlag(w, fl, width)
				seen[r.Flag] = true
			}
		}
	}
	var other []*flag.Flag
	fs.VisitAll(func(fl *flag.Flag) {
		if !seen[fl.Name] {
			other = append(other, fl)
		}
	})
	if len(other) > 0 {
		fmt.Fprintf(w, "\nOther:\n")
		for _, fl := range other {
			printFlag(w, fl, width)
		}
	}
	fmt.Fprintf(w, "\ndiffusers' names (accepted as written, or refused with the reason):\n")
	for _, s := range Synonyms {
		from := "--" + s.Flag
		if s.Value != "" {
			from += " " + s.Value
		}
		to := "refused"
		if s.To != "" {
			to = "= --" + s.To
			if s.ToValue != "" {
				to += " " + s.ToValue
			}
		}
		fmt.Fprintf(w, "  %-36s %s\n%s%s\n", from, to, strings.Repeat(" ", 6), wrap(s.Note, 6, width))
	}
	fmt.Fprintf(w, "\n%s\n%s", DeterministicDDIM, environment)
}

// environment is the end of --help: the variables ocm reads.
const environment = `
Environment:
  OCM_CUDA_PATH      folder (or file) holding libcuda/libcudart/libcublas when
                     they are not in the default library path
  GOGC, GOMEMLIMIT   the Go garbage collector (default: GOGC=100, a 64 MiB
                     floor, a limit of half the memory)
  COLUMNS            the width of the progress line and of --help
`

// printFlag prints one flag, "  --name VALUE   usage (default …)", wrapped at width.
func printFlag(w io.Writer, f *flag.Flag, width int) {
	name, usage := flag.UnquoteUsage(f)
	left := "  --" + f.Name
	if name != "" {
		left += " " + name
	}
	if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
		usage += fmt.Sprintf(" (default %s)", d)
	}
	const col = 30
	if len(left) >= col-1 {
		fmt.Fprintf(w, "%s\n%s", left, strings.Repeat(" ", col))
	} else {
		fmt.Fprintf(w, "%-*s", col, left)
	}
	fmt.Fprintln(w, wrap(usage, col, width))
}

// wrap breaks s into lines of at most width columns, indenting the continuation
// lines by indent.
func wrap(s string, indent, width int) string {
	var b strings.Builder
	n := indent
	for i, word := range strings.Fields(s) {
		if i > 0 && n+1+len([]rune(word)) > width {
			b.WriteString("\n" + strings.Repeat(" ", indent))
			n = indent
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len([]rune(word))
	}
	return b.String()
}

// FlagError is a parse error of the flag package with two dashes, and for an unknown
// flag the closest known one.
func FlagError(fs *flag.FlagSet, err error) error {
	msg := strings.ReplaceAll(err.Error(), " -", " --")
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		var known []string
		fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
		msg = fmt.Sprintf("unknown flag --%s (see ocm --help)", name)
		if s := Suggest(name, known); s != "" {
			msg = fmt.Sprintf("unknown flag --%s: did you mean --%s?", name, s)
		}
	}
	return errors.New(msg)
}

// Suggest returns the name of known closest to name (by edit distance, within about
// a third of its length), or "" when none is close.
func Suggest(name string, known []string) string {
	best, bestD := "", max(2, len(name)/3)+1
	for _, k := range known {
		d := editDistance(name, k)
		if strings.HasPrefix(k, name) && len(name) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
