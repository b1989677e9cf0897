// Package catalog describes ocm's bundles of every format, and lists the embedded
// models (ocm --list).
package catalog

import (
	"fmt"
	"io"

	"ocm/assets"
	"ocm/nn/safetensors"
	"ocm/ocm/featurenet"
	"ocm/ocm/images"
	"ocm/ocm/toy"
)

// List prints the embedded models with their settings.
func List(stdout io.Writer) error {
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
		fmt.Fprintf(stdout, "%-26s %s; sha256 %s\n", info.Name, Describe(f), info.SHA256[:16])
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
