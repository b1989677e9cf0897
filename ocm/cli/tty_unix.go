//go:build unix

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// ttyWidth is the column count of the terminal f, or 0.
func ttyWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
