module ocm

go 1.26.0

require (
	github.com/klauspost/compress v1.20.4
	golang.org/x/sys v0.50.0
)

require github.com/ebitengine/purego v0.11.3
