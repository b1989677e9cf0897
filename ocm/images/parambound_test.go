package images

import (
	"ocm/nn"
	"strings"
	"testing"
)

// TestParamLowerBound: the bound Load and CheckConfig use never exceeds a UNet's
// real parameter count (it would refuse honest bundles) and is within 70% of it
// for the presets (a loose bound would let a hostile file allocate far more than it
// holds); CheckConfig refuses the ch 1024 × mult 16 UNet its field bounds allow,
// and ParseConfig (--config) a ch 1024 × mult 4 one (4.1 GB in the old code).
func TestParamLowerBound(t *testing.T) {
	small, _ := Preset("small", 1, 28)
	net := nn.NewUNet(dev, small, modelKey(1))
	for _, c := range []struct {
		name string
		cfg  nn.UNetConfig
		real int
	}{
		{"small", small, nn.CountParams(net.Params())},
		{"tiny", tinyConfig(), nn.CountParams(tinyModel(t, 1).Net.Params())},
		{"unet-s", nn.UNetS(), nn.UNetSParamCount},
		{"unet-cifar", nn.UNetCIFAR(), nn.UNetCIFARParamCount},
	} {
		lb := ParamLowerBound(c.cfg)
		t.Logf("%s: bound %d of %d (%.0f%%)", c.name, lb, c.real, 100*float64(lb)/float64(c.real))
		if lb > int64(c.real) || float64(lb) < 0.7*float64(c.real) {
			t.Errorf("%s: bound %d, real count %d", c.name, lb, c.real)
		}
	}
	huge := nn.UNetConfig{InCh: 1, Ch: 1024, Mult: []int{16, 16}, NumRes: 8, Resolution: 8, TembIn: 16}
	if err := CheckConfig(huge); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Errorf("CheckConfig of ch 1024 × mult 16: %v", err)
	}
	// The same through --config: a run configuration asking for ch 1024 × mult 4.
	cfg := `{"unet": {"in_ch": 1, "ch": 1024, "ch_mult": [4], "num_res_blocks": 1, "attn_resolutions": [], "resolution": 28, "dropout": 0.1, "temb_in": 32}}`
	if _, err := ParseConfig("run.json", []byte(cfg)); err == nil || !strings.Contains(err.Error(), "unet.ch") || !strings.Contains(err.Error(), "parameters") {
		t.Errorf("--config with ch 1024 × mult 4: %v", err)
	}
}
