package main

import (
	"fmt"
	"io"

	"ocm/assets"
	"ocm/ocm/cli"
	"ocm/ocm/data"
	"ocm/ocm/featurenet"
	"ocm/ocm/manifest"
	"ocm/ocm/modelfile"
)

// checkFlags refuses the flags given that this run's modes do not read on a model of
// kind (cli.Rules), and warns (also with --quiet) about those where refusing would
// break a sensible script.
func checkFlags(o *options, kind cli.Kind, stderr io.Writer) error {
	warnings, err := cli.Check(o.given, func(name string) string { return flagValue(o, name) }, kind)
	if err != nil {
		return userErr("%v", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "ocm: %s\n", w)
	}
	return nil
}

// flagValue is the value of a flag the table's conditions read, after defaults.
func flagValue(o *options, name string) string {
	switch name {
	case "sampler":
		return o.method.String()
	case "data":
		return o.data
	case "weights":
		return o.weights
	case "checkpoint": // not a flag: whether --weights is a published checkpoint
		if o.arch != "" {
			return "yes"
		}
		return ""
	}
	return o.given[name]
}

// modelKind is the kind of model the run works on: image data to train on, or an
// image bundle.
func modelKind(o *options, b *modelfile.File) cli.Kind {
	if (o.train && data.IsImageSpec(o.data)) || (b != nil && b.IsImage) {
		return cli.Image
	}
	return cli.Toy
}

// bundleData is --data, or without it the data set the bundle b was trained on.
func bundleData(o *options, b *modelfile.File) string {
	if o.dataSet || b == nil || b.Safetensors == nil || b.Safetensors.Metadata["dataset"] == "" {
		return o.data
	}
	return b.Safetensors.Metadata["dataset"]
}

// newManifest starts the run's record with every input file and its SHA-256: the
// bundle, the configuration, the data files of the splits the modes read and the
// feature classifier of --eval.
func newManifest(o *options, dev string, b *modelfile.File, kind cli.Kind) (*manifest.Manifest, error) {
	mf := manifest.New(append([]string{"ocm"}, o.args...), manifest.ReadBuild(version), dev, o.seed)
	if b != nil {
		mf.Inputs = append(mf.Inputs, manifest.Input{Role: "weights", Path: b.Name, SHA256: b.SHA256})
	}
	var err error
	switch {
	case o.config != "":
		err = mf.AddInput("config", o.config, "")
	case kind == cli.Toy:
		return mf, inputErr(mf.AddMixture(o.data))
	}
	if err == nil {
		err = mf.AddImageData(o.data, o.evalData, o.dataDir, o.train || o.fit, o.eval, o.evalImages)
	}
	if err == nil && o.eval && o.classifier != "" {
		err = mf.AddInput("classifier", o.classifier, "")
	} else if err == nil && o.eval && o.data == "fashion-mnist" {
		models, _ := assets.List()
		for _, m := range models {
			if m.Name == featurenet.EmbeddedFashionMNIST {
				mf.Inputs = append(mf.Inputs, manifest.Input{Role: "classifier", Path: "embedded " + m.Name, SHA256: m.SHA256})
			}
		}
	}
	return mf, inputErr(err)
}

// stamped is the manifest with the wall time so far and the training losses.
func (s *session) stamped() *manifest.Manifest { return s.mf.Stamp(s.prog.FinalLosses()) }
