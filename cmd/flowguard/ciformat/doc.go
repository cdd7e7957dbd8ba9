// Package ciformat writes findings in the formats CI systems read: SARIF 2.1.0 (code
// scanning), JUnit XML (test reports) and GitHub Actions workflow commands (annotations).
// Each finding points at the manifest file and the line where the offending object's
// document starts.
package ciformat
