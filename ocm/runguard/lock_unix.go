//go:build unix

package runguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockName is the lock file a run holds in its checkpoint folder.
const LockName = "lock"

// ErrLocked is returned by Lock when another process holds the folder.
var ErrLocked = errors.New("in use by another ocm run")

// Lock takes an advisory lock on dir (made if missing) for this process: a second run
// cannot checkpoint into the same folder. The kernel releases it when the process
// ends, however it ends, so a lock left by a dead run is no obstacle. release
// unlocks.
func Lock(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint folder: %w", err)
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		pid := strings.TrimSpace(string(holder))
		return nil, fmt.Errorf("checkpoint folder %s: %w (pid %s); wait for it, or give another --checkpoint-dir", dir, ErrLocked, pid)
	}
	f.Truncate(0)
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
