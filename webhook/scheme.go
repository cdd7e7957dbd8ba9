package webhook

import (
	"fmt"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// NewScheme returns a scheme that knows every kind the webhook decodes: the Kubernetes built-in
// kinds, Calico's projectcalico.org/v3 kinds, the Kubernetes admin policy kinds
// (policy.networking.k8s.io v1alpha1 and v1alpha2) and flowguard's own.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, calicov3.AddToScheme, anp.Install, cnp.Install, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}
