// Package modelfile reads the model a run starts from: an embedded model, a bundle
// file of ocm's (safetensors, optionally zstd-compressed) or a published model's
// PyTorch or diffusers checkpoint, each with the SHA-256 of its bytes (ocm/catalog
// lists and describes the embedded models).
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
	"ocm/ocm/images"
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
	f, sum, err := safetensors.ReadFileSum(path) // sizes checked before anything is allocated
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &File{Safetensors: f, Name: path, SHA256: sum, IsImage: images.IsBundle(f)}, nil
}

// ReadCheckpoint reads path as the checkpoint of the published model arch (see
// nn.PublishedModels), on dev.
func ReadCheckpoint(dev rt.Device, path, arch string) (*File, error) {
	ck, err := nn.LoadPublished(dev, path, arch)
	if err != nil {
		return nil, err
	}
	return &File{Checkpoint: ck, Name: path, SHA256: fileSHA256(path), IsImage: true, Notes: images.CheckpointNotes(ck)}, nil
}

// fileSHA256 is the SHA-256 of the file at path, streamed (a checkpoint can be
// hundreds of MB); "" for a folder (a diffusers checkpoint has no one file).
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
