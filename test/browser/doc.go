// Package browser opens flowguard's html audit report in a real browser (headless Chromium,
// Debian's chromium package, driven over the DevTools protocol with chromedp) and checks what
// a reader sees: no console error, no request leaving the file, no two labels overlapping, no
// label crossed by an edge, every mark of the picture in its legend, and the toggle for
// traffic allowed but never observed. It runs on the example shop and on a generated cluster
// of 20 namespaces and 200 workloads, and saves screenshots of both as test artifacts.
//
// # What it must never do
//
// It never skips: without Chromium the test fails and names the package to install. It holds
// no code the product uses; the reports it opens are made by the flowguard command itself.
package browser
