// Package modelfile reads the model a run starts from: an embedded model, a bundle
// file of ocm's (safetensors, optionally zstd-compressed) or a published model's
// PyTorch or diffusers checkpoint, each with the SHA-256 of its bytes; and it lists
// and describes the embedded models.
package modelfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"ocm/assets"
	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm/featurenet"
	"ocm/ocm/images"
	"ocm/ocm/toy"
	rt "ocm/runtime"
)

// File is the model file a run reads: its contents, its name for messages and
// records (a path, or "embedded NAME") and the SHA-256 of its bytes.
type File struct {
	Safetensors *safetensors.File
	Checkpoint  *nn.Checkpoint // a published model's checkpoint instead of Safetensors
	Name        string
	SHA256      string
	IsImage     bool     // an image model (else a toy one)
	Embedded    bool     // one of the embedded models
	Notes       []string // what reading a checkpoint changed or did not match
}

// Read reads the bundle at path, or the embedded model named model when path is "".
func Read(path, model string) (*File, error) {
	if path != "" {
		return ReadFile(path, "--weights")
	}
	raw, info, err := assets.Load(model)
	if err != nil {
		return nil, fmt.Errorf("--model: %v (see ocm --list)", err)
	}
	name := "embedded " + info.Name
	f, err := safetensors.Read(name, raw)
	if err != nil {
		return nil, err
	}
	return &File{Safetensors: f, Name: name, SHA256: info.SHA256, IsImage: images.IsBundle(f), Embedded: true}, nil
}

// ReadFile reads the bundle at path, which the flag named flag gave.
func ReadFile(path, flag string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	f, err := safetensors.Decode(path, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &File{Safetensors: f, Name: path, SHA256: sha256Hex(raw), IsImage: images.IsBundle(f)}, nil
}

// ReadCheckpoint reads path as the checkpoint of the published model arch (see
// nn.PublishedModels), on dev.
func ReadCheckpoint(dev rt.Device, path, arch string) (*File, error) {
	ck, err := nn.LoadPublished(dev, path, arch)
	if err != nil {
		return nil, err
	}
	sha := ""
	if raw, err := os.ReadFile(path); err == nil { // a diffusers folder has no one file
		sha = sha256Hex(raw)
	}
	return &File{Checkpoint: ck, Name: path, SHA256: sha, IsImage: true, Notes: images.CheckpointNotes(ck)}, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// List prints the embedded models with their settings, one a line.
func List(w io.Writer) error {
	models, err := assets.List()
	if err != nil {
		return err
	}
	for _, info := range models {
		raw, _, err := assets.Load(info.Name)
		if err != nil {
			return err
		}
		f, err := safetensors.Read(info.Name, raw)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-26s %s; sha256 %s\n", info.Name, Describe(f), info.SHA256[:16])
	}
	return nil
}

// Describe is a one-line summary of a bundle of any of ocm's formats.
func Describe(f *safetensors.File) string {
	values := 0
	for _, t := range f.Tensors {
		values += len(t.Data)
	}
	switch md := f.Metadata; md["format"] {
	case images.BundleFormat:
		return images.DescribeBundle(md, values)
	case toy.BundleFormat:
		return toy.DescribeBundle(md)
	case featurenet.Format:
		return featurenet.DescribeBundle(md, values)
	}
	return "format " + f.Metadata["format"]
}
