package ocm

import (
	"bytes"
	"encoding/json"
)

// Equal reports whether m and o are the same mixture (the same JSON form).
func (m *Mixture) Equal(o *Mixture) bool {
	a, errA := json.Marshal(m)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
