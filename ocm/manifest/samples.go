package manifest

import "encoding/json"

// Samples is samples.json, one schema for toy and image models: the run's manifest,
// the model sampled and every setting of the reverse process.
type Samples struct {
	Manifest          *Manifest         `json:"manifest"`
	Model             string            `json:"model"` // the bundle: a path, or "embedded NAME"
	ModelSHA256       string            `json:"model_sha256"`
	Dataset           string            `json:"dataset"` // the data set the model was trained on
	Weights           string            `json:"weights,omitempty"`
	Sampler           string            `json:"sampler"`
	Eta               *float64          `json:"eta,omitempty"` // DDIM only
	Steps             int               `json:"steps"`
	TimestepSpacing   string            `json:"timestep_spacing"`
	VarianceType      string            `json:"variance_type"`
	Probes            int               `json:"probes,omitempty"` // ocm-probe's probes per denoiser call
	ExactScore        bool              `json:"exact_score"`
	ClipX0            bool              `json:"clip_x0"`
	ClipSigmaIdx      *int              `json:"clip_sigma_idx,omitempty"` // images
	ClipPixel         *float64          `json:"clip_pixel,omitempty"`     // images
	NumSamples        int               `json:"num_samples"`
	Seed              uint64            `json:"seed"`
	BetaSchedule      string            `json:"beta_schedule"`
	NumTrainTimesteps int               `json:"num_train_timesteps"`
	Training          map[string]string `json:"training,omitempty"`          // the bundle's training record
	TrainingManifest  json.RawMessage   `json:"training_manifest,omitempty"` // the manifest of the run that wrote the bundle
	Files             []string          `json:"files,omitempty"`
}

// SetTraining records a bundle's training record, with the manifest it holds (under
// "manifest") as JSON of its own.
func (s *Samples) SetTraining(meta map[string]string) {
	s.Training = map[string]string{}
	for k, v := range meta {
		if k == "manifest" && json.Valid([]byte(v)) {
			s.TrainingManifest = json.RawMessage(v)
			continue
		}
		s.Training[k] = v
	}
}

// TextChunks flattens s into "ocm.KEY" → value pairs for PNG text chunks (the
// manifest and the training record as JSON), with "Software" the ocm build.
func (s *Samples) TextChunks() map[string]string {
	out := map[string]string{}
	b, _ := json.Marshal(s)
	var kv map[string]any
	_ = json.Unmarshal(b, &kv)
	for k, v := range kv {
		switch x := v.(type) {
		case string:
			out["ocm."+k] = x
		default:
			j, _ := json.Marshal(x)
			out["ocm."+k] = string(j)
		}
	}
	if s.Manifest != nil {
		out["Software"] = "ocm " + s.Manifest.Build.String()
	}
	return out
}
