package data

// idxCase is a (possibly corrupted) IDX image/label pair and the substring
// its error must contain ("" when it is valid). lbl nil: no label file.
type idxCase struct {
	name     string
	img, lbl []byte
	want     string
}

// idxCases returns valid and corrupted IDX inputs; the corruption table
// test and the fuzz seeds share it.
func idxCases() []idxCase {
	img, lbl := idxPair(2, 2, 2, 10)
	cut := func(b []byte, n int) []byte { return append([]byte(nil), b[:n]...) }
	set := func(b []byte, at int, v ...byte) []byte {
		c := append([]byte(nil), b...)
		copy(c[at:], v)
		return c
	}
	bigDims := idxFile(idxImagesMagic, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil)
	gzImg := gz(img)
	gzExtra := gz(append(append([]byte(nil), img...), 9))
	return []idxCase{
		{"valid raw", img, lbl, ""},
		{"valid gzip", gzImg, gz(lbl), ""},
		{"valid no labels", img, nil, ""},
		{"empty file", []byte{}, lbl, "truncated header: file ends in the magic number"},
		{"truncated in magic", cut(img, 2), lbl, "truncated header: file ends in the magic number"},
		{"truncated in dims", cut(img, 10), lbl, "truncated header: file ends in dim 2 of 3"},
		{"truncated in pixels", cut(img, 20), lbl, "need 8 bytes after the 16-byte header (file of 24 bytes), file has 20 bytes"},
		{"trailing bytes", append(append([]byte(nil), img...), 0), lbl, "file has 25 bytes"},
		{"wrong magic", set(img, 0, 0x12, 0x34), lbl, "not an IDX file: magic 0x12340803"},
		{"wrong dtype", set(img, 2, 0x0d), lbl, "unsupported IDX dtype 0x0d, want 0x08 (uint8)"},
		{"labels as images", lbl, lbl, "IDX file has 1 dims (magic 0x00000801), want 3"},
		{"images as labels", img, img, "IDX file has 3 dims (magic 0x00000803), want 1"},
		{"dims overflow", bigDims, lbl, "dims 4294967295×4294967295×4294967295 give more than 1000000000 bytes"},
		{"zero images", idxFile(idxImagesMagic, []uint32{0, 28, 28}, nil), nil, "empty data set: dims 0×28×28"},
		{"huge side", idxFile(idxImagesMagic, []uint32{1, 1, 5000}, make([]byte, 5000)), nil, "exceeds the limit 4096×4096"},
		{"label count mismatch", img, idxFile(idxLabelsMagic, []uint32{3}, []byte{0, 1, 2}), "label count 3 does not match image count 2"},
		{"labels truncated", img, cut(lbl, 9), "need 2 bytes after the 8-byte header"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0, 0}, lbl, "bad gzip header"},
		{"gzip truncated", cut(gzImg, len(gzImg)-6), lbl, "bad gzip stream (corrupt or truncated)"},
		{"gzip bad checksum", set(gzImg, len(gzImg)-8, ^gzImg[len(gzImg)-8]), lbl, "bad gzip stream (corrupt or truncated): gzip: invalid checksum"},
		{"gzip short data", gz(cut(img, 20)), lbl, "truncated data: dims need 8 bytes after the header, got 4"},
		{"gzip trailing data", gzExtra, lbl, "trailing bytes: dims need 8 bytes after the header"},
	}
}

// cifarCase is a (possibly corrupted) CIFAR-10 batch.
type cifarCase struct {
	name string
	data []byte
	want string
}

// cifarCases returns valid and corrupted CIFAR-10 batches.
func cifarCases() []cifarCase {
	two := cifarBatch(2)
	badLabel := append([]byte(nil), two...)
	badLabel[cifarRecord] = 10
	return []cifarCase{
		{"valid", two, ""},
		{"empty", []byte{}, "size 0 bytes is not a positive multiple of the 3073-byte CIFAR-10 record"},
		{"size not multiple", two[:cifarRecord+100], "size 3173 bytes is not a positive multiple of the 3073-byte CIFAR-10 record (1 whole records + 100 bytes)"},
		{"label out of range", badLabel, "record 1 (byte offset 3073): label 10 out of range 0–9"},
	}
}
