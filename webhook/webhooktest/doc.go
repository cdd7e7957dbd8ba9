// Package webhooktest holds what tests and benchmarks need around flowguard's webhook: a
// certificate authority that issues serving certificates and writes them the way a mounted
// Secret presents them, and a client that sends AdmissionReviews over TLS the way the API
// server does.
//
// It is for tests, end-to-end suites and load harnesses only; flowguard itself never imports it,
// and its certificates must never be used outside a test.
package webhooktest
