package data

import (
	"errors"
	"strings"
)

// ErrNotImages is returned by Open for a spec that names no image data set.
var ErrNotImages = errors.New("not an image data set (fashion-mnist, idx:FILE, cifar10:FILE or png:FOLDER)")

// IsImageSpec reports whether spec, the value of --data, names an image data set
// (and not a Gaussian mixture).
func IsImageSpec(spec string) bool {
	kind, _, hasArg := strings.Cut(spec, ":")
	switch kind {
	case "fashion-mnist":
		return !hasArg
	case "idx", "cifar10", "png":
		return hasArg
	}
	return false
}

// Open reads the data set that spec names: fashion-mnist (the files in fashionDir,
// DefaultFashionMNISTDir when empty), idx:IMAGES[,LABELS], cifar10:FILE[,FILE…] or
// png:FOLDER. With test it reads Fashion-MNIST's test split; the other kinds have
// only the files named.
func Open(spec, fashionDir string, test bool) (*Images, error) {
	if !IsImageSpec(spec) {
		return nil, ErrNotImages
	}
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "fashion-mnist":
		return FashionMNIST(fashionDir, !test)
	case "idx":
		imgs, lbls, _ := strings.Cut(arg, ",")
		return ReadIDX(imgs, lbls)
	case "cifar10":
		return ReadCIFAR10(strings.Split(arg, ",")...)
	}
	return ReadPNGDir(arg)
}
