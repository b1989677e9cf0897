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
// unlocks, and removes the folder (and its parent, when that is left empty) if the run
// wrote nothing in it.
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
		if onlyLock(dir) {
			os.Remove(path)
			os.Remove(dir)
			os.Remove(filepath.Dir(dir)) // only when empty
		}
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// onlyLock says whether dir holds nothing but the lock file.
func onlyLock(dir string) bool {
	es, err := os.ReadDir(dir)
	return err == nil && len(es) == 1 && es[0].Name() == LockName
}
