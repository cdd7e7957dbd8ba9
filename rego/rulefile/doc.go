// Package rulefile reads user rules from files as a repository holds them: RegoRule manifests
// (the kind flowguard serve loads from the cluster) and plain .rego modules. It turns a RegoRule
// into the rego.UserRule the webhook's loader compiles, so that the offline commands run the
// rules the cluster runs, and restates compile errors at the file and line the author edits.
//
// It must never compile rules itself: compiling and sandboxing is the rego engine's, one path
// for the webhook and the command line.
package rulefile
