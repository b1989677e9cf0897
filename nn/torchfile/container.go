package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// readZip reads torch.save's zip format: PREFIX/data.pkl, PREFIX/data/KEY storages
// and PREFIX/byteorder ("little" when absent, as in files before PyTorch 1.10).
func readZip(data []byte) (*File, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("is not a readable zip archive (truncated or corrupt): %v", err)
	}
	entries := map[string]*zip.File{}
	var pkl []string
	for _, e := range zr.File {
		entries[e.Name] = e
		if strings.HasSuffix(e.Name, "/data.pkl") && strings.Count(e.Name, "/") == 1 {
			pkl = append(pkl, e.Name)
		}
	}
	if len(pkl) != 1 {
		return nil, fmt.Errorf("zip archive has %d PREFIX/data.pkl entries, want 1 (not a torch.save archive)", len(pkl))
	}
	prefix := strings.TrimSuffix(pkl[0], "data.pkl")
	order, err := zipByteOrder(entries[prefix+"byteorder"])
	if err != nil {
		return nil, err
	}
	raw, err := readEntry(entries[pkl[0]], MaxPickleSize)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storage{}
	load := func(pid *tuple) (any, error) {
		dt, key, numel, err := storageID(pid)
		if err != nil {
			return nil, err
		}
		if st, ok := storages[key]; ok {
			if st.dtype != dt || st.numel != numel {
				return nil, fmt.Errorf("storage %q is named twice with different types or sizes", printable(key))
			}
			return st, nil
		}
		st := &storage{key: key, dtype: dt, numel: numel, order: order}
		if err := st.readZip(entries[prefix+"data/"+key], prefix+"data/"+key, len(data)); err != nil {
			return nil, err
		}
		storages[key] = st
		return st, nil
	}
	u := &unpickler{data: raw, persistentLoad: load}
	obj, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl[0], unwrapRefusal(err))
	}
	return build(obj, "zip", len(data))
}

// unwrapRefusal returns a refused global's error alone (its byte offset says
// nothing), any other error as it is.
func unwrapRefusal(err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return r
	}
	return err
}

func zipByteOrder(e *zip.File) (binary.ByteOrder, error) {
	if e == nil {
		return binary.LittleEndian, nil
	}
	b, err := readEntry(e, 16)
	if err != nil {
		return nil, err
	}
	switch string(b) {
	case "little":
		return binary.LittleEndian, nil
	case "big":
		return binary.BigEndian, nil
	}
	return nil, fmt.Errorf("byteorder entry says %q, want little or big", printable(string(b)))
}

// readEntry returns the bytes of a zip entry of at most limit bytes, checking its
// CRC.
func readEntry(e *zip.File, limit int) ([]byte, error) {
	if e.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("zip entry %s is %d bytes, more than the %d allowed", printable(e.Name), e.UncompressedSize64, limit)
	}
	r, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %v", printable(e.Name), err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err == nil && len(b) > limit {
		err = fmt.Errorf("more than %d bytes", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %v", printable(e.Name), err)
	}
	return b, nil
}

// readZip reads the storage's bytes from its zip entry, which must be stored
// uncompressed (as torch.save writes it) and hold exactly numel values.
func (st *storage) readZip(e *zip.File, name string, fileSize int) error {
	if e == nil {
		return fmt.Errorf("storage %q: the archive has no entry %s", printable(st.key), printable(name))
	}
	need, err := st.bytes(fileSize)
	if err != nil {
		return err
	}
	if e.Method != zip.Store {
		return fmt.Errorf("storage entry %s is compressed (method %d); torch.save stores storages uncompressed", printable(name), e.Method)
	}
	if e.UncompressedSize64 != uint64(need) {
		return fmt.Errorf("storage entry %s holds %d bytes, but its tensor header says %d %s values (%d bytes)",
			printable(name), e.UncompressedSize64, st.numel, st.dtype.name, need)
	}
	b, err := readExact(e, need)
	if err != nil {
		return err
	}
	st.data, st.loaded = b, true
	return nil
}

// readExact reads an entry of exactly n bytes (already checked against the file's
// size) into one allocation, then reads to its end so that archive/zip checks the
// CRC.
func readExact(e *zip.File, n int) ([]byte, error) {
	r, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %v", printable(e.Name), err)
	}
	defer r.Close()
	b := make([]byte, n)
	if _, err = io.ReadFull(r, b); err == nil {
		var one [1]byte
		switch k, err2 := r.Read(one[:]); {
		case k != 0:
			err = fmt.Errorf("holds more than %d bytes", n)
		case errors.Is(err2, zip.ErrChecksum):
			err = errors.New("checksum mismatch: the entry is corrupt")
		case err2 != io.EOF:
			err = err2
		}
	}
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %v", printable(e.Name), err)
	}
	return b, nil
}

// bytes returns the storage's byte count, refusing one larger than the file.
func (st *storage) bytes(fileSize int) (int, error) {
	if st.numel > int64(fileSize)/int64(st.dtype.size) {
		return 0, fmt.Errorf("storage %q claims %d %s values, more than the %d-byte file holds", printable(st.key), st.numel, st.dtype.name, fileSize)
	}
	return int(st.numel) * st.dtype.size, nil
}

// legacyMagic is the first pickle of a legacy torch.save stream.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// readLegacy reads the pre-1.6 stream format (_use_new_zipfile_serialization=False).
func readLegacy(data []byte) (*File, error) {
	u := &unpickler{data: data}
	magic, err := u.run()
	if m, ok := magic.(*big.Int); err != nil || !ok || m.Cmp(legacyMagic) != 0 {
		return nil, errors.New("pickle stream does not start with torch.save's magic number (a plain pickle, not a checkpoint)")
	}
	if v, err := u.run(); err != nil || v != int64(1001) {
		return nil, fmt.Errorf("legacy protocol version is %v, want 1001", v)
	}
	order, err := legacySysInfo(u)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storage{}
	u.persistentLoad = func(pid *tuple) (any, error) {
		dt, key, numel, err := storageID(pid)
		if err != nil {
			return nil, err
		}
		if st, ok := storages[key]; ok {
			if st.dtype != dt || st.numel != numel {
				return nil, fmt.Errorf("storage %q is named twice with different types or sizes", printable(key))
			}
			return st, nil
		}
		st := &storage{key: key, dtype: dt, numel: numel, order: order}
		if _, err := st.bytes(len(data)); err != nil {
			return nil, err
		}
		storages[key] = st
		return st, nil
	}
	obj, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("object pickle: %w", unwrapRefusal(err))
	}
	u.persistentLoad = nil
	if err := readLegacyStorages(u, storages, order); err != nil {
		return nil, err
	}
	return build(obj, "legacy", len(data))
}

// legacySysInfo reads the system-information pickle and returns the byte order.
func legacySysInfo(u *unpickler) (binary.ByteOrder, error) {
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("system-information pickle: %w", unwrapRefusal(err))
	}
	d, ok := v.(*dict)
	if !ok {
		return nil, fmt.Errorf("system-information pickle holds %s, not a dict", describe(v))
	}
	little, ok := d.vals["little_endian"].(bool)
	if !ok {
		return nil, errors.New("system-information pickle has no little_endian flag")
	}
	if little {
		return binary.LittleEndian, nil
	}
	return binary.BigEndian, nil
}

// readLegacyStorages reads the key list, then each storage: an 8-byte element count
// and the bytes.
func readLegacyStorages(u *unpickler, storages map[string]*storage, order binary.ByteOrder) error {
	v, err := u.run()
	if err != nil {
		return fmt.Errorf("storage-key pickle: %w", unwrapRefusal(err))
	}
	keys, ok := v.(*list)
	if !ok {
		return fmt.Errorf("storage-key pickle holds %s, not a list", describe(v))
	}
	for _, k := range keys.items {
		key, ok := k.(string)
		st := storages[key]
		if !ok || st == nil || st.loaded {
			return fmt.Errorf("storage key %v is not a storage the object pickle names once", k)
		}
		b, err := u.read(8)
		if err != nil {
			return fmt.Errorf("storage %q: %w", printable(key), err)
		}
		if n := int64(order.Uint64(b)); n != st.numel {
			return fmt.Errorf("storage %q holds %d values, but its tensor header says %d", printable(key), n, st.numel)
		}
		need := int(st.numel) * st.dtype.size
		if need > len(u.data)-u.pos {
			return fmt.Errorf("storage %q needs %d bytes, only %d remain (truncated)", printable(key), need, len(u.data)-u.pos)
		}
		st.data, st.loaded = u.data[u.pos:u.pos+need], true
		u.pos += need
	}
	for key, st := range storages {
		if !st.loaded {
			return fmt.Errorf("storage %q is named by a tensor but not in the file", printable(key))
		}
	}
	return nil
}
