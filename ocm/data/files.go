package data

import (
	"strings"
)

// Files returns the files Open(spec, fashionDir, test) reads, in the order it reads
// them, so a run can record their checksums. For png:FOLDER it is the folder's PNG
// files.
func Files(spec, fashionDir string, test bool) ([]string, error) {
	if !IsImageSpec(spec) {
		return nil, ErrNotImages
	}
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "fashion-mnist":
		if fashionDir == "" {
			fashionDir = DefaultFashionMNISTDir
		}
		prefix := "t10k"
		if !test {
			prefix = "train"
		}
		var out []string
		for _, n := range []string{prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"} {
			p, err := findFile(fashionDir, n)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	case "idx":
		imgs, lbls, _ := strings.Cut(arg, ",")
		if lbls == "" {
			return []string{imgs}, nil
		}
		return []string{imgs, lbls}, nil
	case "cifar10":
		return strings.Split(arg, ","), nil
	}
	return listPNG(arg)
}

// SpecHint says what to write for a --data value that is almost an image data set
// ("cifar10" without its files, "idx" without a file, "mnist"), or "" when spec is
// not such a value.
func SpecHint(spec string) string {
	switch strings.ToLower(strings.TrimSuffix(spec, ":")) {
	case "cifar10", "cifar-10", "cifar":
		return "CIFAR-10 is read from its python batch files: write cifar10:FILE[,FILE…] (for example cifar10:data_batch_1,data_batch_2)"
	case "idx", "mnist":
		return "IDX files are named: write idx:IMAGES[,LABELS] (for example idx:train-images-idx3-ubyte,train-labels-idx1-ubyte), or fashion-mnist for the installed Fashion-MNIST"
	case "png":
		return "a PNG folder is named: write png:FOLDER"
	case "fashion_mnist", "fashionmnist", "fmnist":
		return "write fashion-mnist"
	}
	return ""
}
