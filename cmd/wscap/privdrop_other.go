//go:build !linux

package main

// dropPrivileges does nothing where live capture is not implemented.
func dropPrivileges(name string, explicit bool) (string, error) { return "", nil }
