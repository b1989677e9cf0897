package assets

import (
	"errors"
	"fmt"
	"strings"
)

// Verify lists the embedded models with the first 16 hex digits of their
// SHA-256, each decompressed and checked against it.
func Verify() (string, error) {
	models, err := List()
	if err != nil {
		return "", err
	}
	if len(models) == 0 {
		return "", errors.New("none embedded")
	}
	var out []string
	for _, m := range models {
		data, _, err := Load(m.Name)
		if err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%s (sha256 %s…, %d bytes, checksum ok)", m.Name, m.SHA256[:16], len(data)))
	}
	return strings.Join(out, ", "), nil
}
