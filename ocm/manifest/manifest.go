// Package manifest is the record that identifies a run: the command line, the ocm
// build (version and commit), the device, the seed, the SHA-256 of every input file,
// the data split, the wall time and the final losses. Every report.json, samples.json
// and bundle of ocm carries one, in one schema for toy and image models.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// Build is the ocm binary that ran: its version, the commit it was built from (the
// vcs stamp of `go build` in a git checkout) and the Go toolchain.
type Build struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`   // vcs.revision; empty when not stamped
	Modified bool   `json:"modified,omitempty"` // the checkout had uncommitted changes
	Go       string `json:"go"`
	CGO      string `json:"cgo,omitempty"` // "0" or "1" as the build recorded it
}

// ReadBuild returns the build of the running binary, with version the ocm release
// (set at link time with -ldflags "-X main.version=…").
func ReadBuild(version string) Build {
	b := Build{Version: version, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b = buildFrom(version, bi.Settings)
		b.Go = bi.GoVersion
	}
	return b
}

// buildFrom reads the vcs and cgo settings of a build.
func buildFrom(version string, settings []debug.BuildSetting) Build {
	b := Build{Version: version, Go: runtime.Version()}
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "CGO_ENABLED":
			b.CGO = s.Value
		}
	}
	return b
}

// ShortCommit is the first 12 digits of the commit, with "+modified" for a checkout
// with uncommitted changes; "" without a vcs stamp.
func (b Build) ShortCommit() string {
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c != "" && b.Modified {
		c += "+modified"
	}
	return c
}

// String is "VERSION (commit ABCDEF012345[+modified])", or "VERSION (no vcs stamp)".
func (b Build) String() string {
	if c := b.ShortCommit(); c != "" {
		return b.Version + " (commit " + c + ")"
	}
	return b.Version + " (no vcs stamp)"
}

// Input is one file a run read.
type Input struct {
	Role   string `json:"role"` // weights, data (train split), data (test split), classifier, config, mixture
	Path   string `json:"path"` // as given, or "embedded NAME"
	SHA256 string `json:"sha256"`
}

// Manifest identifies a run. Wall seconds are this process's; TrainingSeconds, when
// the run trained or fitted, are summed over every process of the run (resumes
// included) as far as the checkpoints record them.
type Manifest struct {
	Command     []string           `json:"command"`
	Build       Build              `json:"ocm"`
	Device      string             `json:"device"`
	Seed        uint64             `json:"seed"`
	Inputs      []Input            `json:"inputs"`
	DataSplit   string             `json:"data_split,omitempty"`
	Started     string             `json:"started_utc"`
	WallSeconds float64            `json:"wall_seconds"`
	FinalLosses map[string]float64 `json:"final_losses,omitempty"` // task → last loss per value (mean squared error per pixel or coordinate)
	start       time.Time
}

// New starts the manifest of a run of command (the program and its arguments).
func New(command []string, build Build, device string, seed uint64) *Manifest {
	now := time.Now()
	return &Manifest{Command: command, Build: build, Device: device, Seed: seed, Inputs: []Input{},
		Started: now.UTC().Format(time.RFC3339), start: now}
}

// AddInput records a file read, with the SHA-256 of its bytes when sha is empty. A
// file already recorded under the same role is not added twice.
func (m *Manifest) AddInput(role, path, sha string) error {
	for _, in := range m.Inputs {
		if in.Role == role && in.Path == path {
			return nil
		}
	}
	if sha == "" {
		var err error
		if sha, err = FileSHA256(path); err != nil {
			return err
		}
	}
	m.Inputs = append(m.Inputs, Input{Role: role, Path: path, SHA256: sha})
	return nil
}

// Stamp sets the wall time so far and the final losses; call it right before the
// manifest is written.
func (m *Manifest) Stamp(losses map[string]float64) *Manifest {
	if !m.start.IsZero() {
		m.WallSeconds = round3(time.Since(m.start).Seconds())
	}
	if len(losses) > 0 {
		m.FinalLosses = losses
	}
	return m
}

// JSON is the manifest as one line of JSON, the form bundles store it in.
func (m *Manifest) JSON() string {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprintf("%q", err.Error())
	}
	return string(b)
}

// FileSHA256 is the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("manifest: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func round3(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	return r
}
