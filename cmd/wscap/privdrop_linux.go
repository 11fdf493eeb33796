//go:build linux

package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"unsafe"
)

// dropPrivileges gives up what live capture no longer needs once its socket
// is open (and the --write file created). Started as root, it switches to
// user name (its primary group, no supplementary groups); Go applies
// setuid and setgid to every thread on Linux. name "" keeps root. When the
// default user (explicit false) does not exist, root is kept.
//
// Started without root but with file capabilities (setcap), it clears all
// capabilities of every thread, which needs a build without cgo
// (syscall.AllThreadsSyscall); with cgo they are kept.
//
// It returns the user it switched to, or "".
func dropPrivileges(name string, explicit bool) (string, error) {
	if os.Geteuid() != 0 {
		clearCapabilities()
		return "", nil
	}
	if name == "" {
		return "", nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if !explicit {
			return "", nil
		}
		return "", fmt.Errorf("--user %s: %v", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("--user %s: uid %q, gid %q are not numbers", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return "", nil
	}
	if err := syscall.Setgroups(nil); err != nil {
		return "", fmt.Errorf("setgroups: %v", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("setgid %d: %v", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("setuid %d: %v", uid, err)
	}
	if os.Geteuid() != uid || os.Getegid() != gid {
		return "", fmt.Errorf("still uid %d gid %d after switching to %s", os.Geteuid(), os.Getegid(), name)
	}
	return fmt.Sprintf("%s (uid %d, gid %d)", name, uid, gid), nil
}

// clearCapabilities empties the permitted, effective and inheritable
// capability sets of every thread (capset(2), version 3), best effort.
func clearCapabilities() {
	hdr := struct {
		version uint32
		pid     int32
	}{version: 0x20080522} // _LINUX_CAPABILITY_VERSION_3
	var data [2]struct{ effective, permitted, inheritable uint32 }
	syscall.AllThreadsSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
}
