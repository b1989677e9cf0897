package imagefile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// pngSignature is the 8-byte signature every PNG file starts with.
const pngSignature = "\x89PNG\r\n\x1a\n"

// maxChunkLen is the largest chunk data length PNG allows (2³¹-1).
const maxChunkLen = 1<<31 - 1

// toLatin1 converts a UTF-8 string to Latin-1 bytes; it fails on invalid
// UTF-8, on runes above U+00FF and on NUL.
func toLatin1(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return nil, fmt.Errorf("invalid UTF-8 at byte %d", i)
		case r > 0xFF:
			return nil, fmt.Errorf("rune %U at byte %d is not in Latin-1", r, i)
		case r == 0:
			return nil, fmt.Errorf("NUL at byte %d", i)
		}
		out = append(out, byte(r))
		i += size
	}
	return out, nil
}

// fromLatin1 converts Latin-1 bytes to a UTF-8 string.
func fromLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// checkKeyword applies the PNG rules for a tEXt keyword (already Latin-1):
// 1 to 79 bytes of printable Latin-1 (32–126, 161–255), no leading,
// trailing or consecutive spaces.
func checkKeyword(kw []byte) error {
	if len(kw) < 1 || len(kw) > 79 {
		return fmt.Errorf("is %d bytes in Latin-1, want 1 to 79", len(kw))
	}
	for i, c := range kw {
		if c < 32 || (c > 126 && c < 161) {
			return fmt.Errorf("byte %d (0x%02x) is not printable Latin-1", i, c)
		}
		if c == ' ' && (i == 0 || i == len(kw)-1 || kw[i-1] == ' ') {
			return errors.New("has a leading, trailing or doubled space")
		}
	}
	return nil
}

// appendChunk appends one PNG chunk (length, type, data, CRC-32 over type
// and data) to b.
func appendChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// textChunks validates text and encodes it as tEXt chunks in sorted key
// order; it returns nil for an empty map.
func textChunks(text map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(text))
	for k := range text {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []byte
	for _, k := range keys {
		kw, err := toLatin1(k)
		if err == nil {
			err = checkKeyword(kw)
		}
		if err != nil {
			return nil, fmt.Errorf("text keyword %q: %w", k, err)
		}
		val, err := toLatin1(text[k])
		if err != nil {
			return nil, fmt.Errorf("text value for %q: %w", k, err)
		}
		if len(kw)+1+len(val) > maxChunkLen {
			return nil, fmt.Errorf("text value for %q: too long for a PNG chunk", k)
		}
		data := make([]byte, 0, len(kw)+1+len(val))
		data = append(data, kw...)
		data = append(data, 0)
		data = append(data, val...)
		out = appendChunk(out, "tEXt", data)
	}
	return out, nil
}

// ReadText returns the tEXt chunks of the PNG file at path as a map from
// keyword to text, both converted from Latin-1 to UTF-8; it returns an empty
// map if there are none. If a keyword occurs more than once the last chunk
// wins. Compressed (zTXt) and international (iTXt) text chunks are ignored.
//
// ReadText walks the chunk list up to IEND without decoding the image, and
// fails on a missing PNG signature, a truncated or oversized chunk, a
// CRC-32 mismatch in any chunk, or a tEXt chunk without a NUL separator or
// with an empty or over-long keyword.
func ReadText(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("imagefile: read text: %w", err)
	}
	text, err := parseText(b)
	if err != nil {
		return nil, fmt.Errorf("imagefile: read text %s: %w", path, err)
	}
	return text, nil
}

// parseText extracts the tEXt chunks of an in-memory PNG; see ReadText.
func parseText(b []byte) (map[string]string, error) {
	if len(b) < len(pngSignature) || string(b[:len(pngSignature)]) != pngSignature {
		return nil, errors.New("not a PNG file (bad signature)")
	}
	text := map[string]string{}
	off := len(pngSignature)
	for {
		if len(b)-off < 12 {
			return nil, fmt.Errorf("truncated at byte %d: no IEND chunk", off)
		}
		n := binary.BigEndian.Uint32(b[off:])
		if n > maxChunkLen {
			return nil, fmt.Errorf("chunk at byte %d: length %d exceeds 2³¹-1", off, n)
		}
		if uint64(len(b)-off-12) < uint64(n) {
			return nil, fmt.Errorf("chunk at byte %d: truncated (length %d, %d bytes left)", off, n, len(b)-off-12)
		}
		typ := string(b[off+4 : off+8])
		body := b[off+4 : off+8+int(n)] // type and data, what the CRC covers
		want := binary.BigEndian.Uint32(b[off+8+int(n):])
		if got := crc32.ChecksumIEEE(body); got != want {
			return nil, fmt.Errorf("chunk %q at byte %d: CRC-32 is %08x, stored %08x", typ, off, got, want)
		}
		data := body[4:]
		switch typ {
		case "tEXt":
			i := 0
			for i < len(data) && data[i] != 0 {
				i++
			}
			if i == len(data) {
				return nil, fmt.Errorf("tEXt chunk at byte %d: no NUL after the keyword", off)
			}
			if i < 1 || i > 79 {
				return nil, fmt.Errorf("tEXt chunk at byte %d: keyword is %d bytes, want 1 to 79", off, i)
			}
			text[fromLatin1(data[:i])] = fromLatin1(data[i+1:])
		case "IEND":
			return text, nil
		}
		off += 12 + int(n)
	}
}
