package cluster

import (
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	anp "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	flowguardv1alpha1 "github.com/flowguard/flowguard/api/v1alpha1"
)

// NewScheme returns a scheme that knows the built-in Kubernetes types, CustomResourceDefinitions,
// flowguard.dev/v1alpha1, projectcalico.org/v3, cert-manager.io/v1 and the admin policy kinds.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for name, add := range map[string]func(*runtime.Scheme) error{
		"kubernetes":                        clientgoscheme.AddToScheme,
		"apiextensions/v1":                  apiextensionsv1.AddToScheme,
		"flowguard.dev":                     flowguardv1alpha1.AddToScheme,
		"projectcalico.org":                 calicov3.AddToScheme,
		"cert-manager.io":                   cmapi.AddToScheme,
		"policy.networking.k8s.io/v1alpha1": anp.Install,
		"policy.networking.k8s.io/v1alpha2": cnp.Install,
	} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("register %s types: %w", name, err)
		}
	}
	return scheme, nil
}
