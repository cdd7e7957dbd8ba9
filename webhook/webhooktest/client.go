package webhooktest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Client sends AdmissionReviews to a webhook over TLS, keeping connections alive as the API
// server does.
type Client struct {
	URL  string
	HTTP *http.Client
}

// NewClient returns a client for url that trusts roots only.
func NewClient(url string, roots *x509.CertPool, maxConns int) *Client {
	return &Client{URL: url, HTTP: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			MaxIdleConns:        maxConns,
			MaxIdleConnsPerHost: maxConns,
			MaxConnsPerHost:     maxConns,
		},
	}}
}

// Body encodes req as an admission.k8s.io/v1 AdmissionReview.
func Body(req *admissionv1.AdmissionRequest) ([]byte, error) {
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
}

// Send posts an encoded AdmissionReview and returns the response it carries.
func (c *Client) Send(body []byte) (*admissionv1.AdmissionResponse, error) {
	resp, err := c.HTTP.Post(c.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("post AdmissionReview to %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read AdmissionReview from %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("post AdmissionReview to %s: HTTP %d: %s", c.URL, resp.StatusCode, data)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil {
		return nil, fmt.Errorf("decode AdmissionReview from %s: %w", c.URL, err)
	}
	if review.Response == nil {
		return nil, fmt.Errorf("AdmissionReview from %s has no response", c.URL)
	}
	return review.Response, nil
}
