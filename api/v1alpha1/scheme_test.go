package v1alpha1

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// TestAddToSchemeRegistersEveryCRDKind holds the scheme and the generated CRDs together: each
// kind and list kind a CRD of this group serves is registered, and every type of this package
// that is registered is served by a CRD.
func TestAddToSchemeRegistersEveryCRDKind(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../config/crd/bases/" + GroupVersion.Group + "_*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs of %s under config/crd/bases (err %v)", GroupVersion.Group, err)
	}
	var served []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(b, &crd); err != nil {
			t.Fatalf("decode %s: %v", f, err)
		}
		if !slices.ContainsFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool {
			return v.Name == GroupVersion.Version && v.Served
		}) {
			continue
		}
		for _, kind := range []string{crd.Spec.Names.Kind, crd.Spec.Names.ListKind} {
			served = append(served, kind)
			if !s.Recognizes(GroupVersion.WithKind(kind)) {
				t.Errorf("%s: kind %s is not registered by AddToScheme", filepath.Base(f), kind)
			}
		}
	}
	pkg := reflect.TypeFor[RegoRule]().PkgPath()
	for kind, typ := range s.KnownTypes(GroupVersion) {
		if typ.PkgPath() == pkg && !slices.Contains(served, kind) {
			t.Errorf("kind %s is registered but no CRD under config/crd/bases serves it", kind)
		}
	}
}
