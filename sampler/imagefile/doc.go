// Package imagefile writes diffusion-model samples to disk as PNG images
// and as NumPy .npz archives, the formats people look at and the ones
// external FID tools read.
//
// Samples are float32 images in NCHW layout (n images of c channels, h rows
// and w columns, row-major, channel planes one after another) with values
// in [-1, 1]. They are quantised as
//
//	image = clamp((x+1)/2, 0, 1),   pixel = round(255·image)
//
// (ToUint8), so -1 is 0, 0 is 128 and 1 is 255; values outside [-1, 1]
// clamp and NaN becomes 0. c must be 1 (grayscale) or 3 (RGB).
//
// WriteGrid tiles a batch into one PNG, WriteEach writes one PNG per image,
// and WriteNPZ writes a uint8 NHWC array arr_0.npy inside a .npz, as
// numpy.savez would. PNGs can carry metadata (model, step, seed, ...) as
// tEXt chunks, which ReadText reads back; Go's image/png cannot write text
// chunks, so they are spliced into its output after IHDR.
//
// Every file is written atomically (a temporary file in the same folder,
// fsynced, then renamed over the target, see safetensors.WriteFileAtomic):
// readers and crashes see the old file or the complete new one. Arguments
// are checked before anything is written; bad arguments return an error and
// never panic. Output bytes depend only on the arguments, so equal inputs
// give byte-identical files.
package imagefile
