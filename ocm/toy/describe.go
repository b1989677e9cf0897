package toy

import (
	"fmt"

	"ocm/ocm"
)

// Mixture returns the built-in mixture of that name (mog9, mog40) or reads the
// mixture JSON file it names.
func Mixture(name string) (*ocm.Mixture, error) {
	switch name {
	case "mog9":
		return ocm.Mog9(), nil
	case "mog40":
		return ocm.Mog40(), nil
	}
	return ocm.LoadMixtureJSON(name)
}

// DescribeBundle is a one-line summary of a toy bundle's metadata md.
func DescribeBundle(md map[string]string) string {
	return fmt.Sprintf("toy model (%s): %s, hidden %s, %s schedule, N=%s; trained %s steps, heads %s steps",
		md["dataset"], md["model"], md["hidden"], md["schedule"], md["diffusion_steps"], md["train.backbone_steps"],
		md["train.head_steps"])
}
