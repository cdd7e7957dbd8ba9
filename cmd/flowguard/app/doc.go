// Package app builds flowguard's cobra commands from options structs. Every flag is declared here,
// in an options struct with AddFlags and Validate; no other package declares flags or loggers.
package app
