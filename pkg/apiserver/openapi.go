package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
)

// kindOpenAPI is a defined kind's OpenAPI, made by apiextensions-apiserver's builder from the
// kind's CRD description, as its OpenAPI controllers make a CRD's.
type kindOpenAPI struct {
	v2 *spec.Swagger
	v3 *spec3.OpenAPI
}

func buildKindOpenAPI(d *kinds.Defined) (*kindOpenAPI, error) {
	version := appsv1alpha1.SchemeGroupVersion.Version
	v2, err := builder.BuildOpenAPIV2(d.CRD, version, builder.Options{V2: true})
	if err != nil {
		return nil, fmt.Errorf("OpenAPI v2 of %s: %w", d.Kind.Kind, err)
	}
	v3, err := builder.BuildOpenAPIV3(d.CRD, version, builder.Options{})
	if err != nil {
		return nil, fmt.Errorf("OpenAPI v3 of %s: %w", d.Kind.Kind, err)
	}
	return &kindOpenAPI{v2: v2, v3: v3}, nil
}

// groupOpenAPI keeps the server's /openapi/v2 and /openapi/v3/apis/apps.cozy.io/v1alpha1 the
// typed kinds' spec merged with the served defined kinds', replaced on every change.
type groupOpenAPI struct {
	v2       *handler.OpenAPIService
	v3       *handler3.OpenAPIService
	staticV2 *spec.Swagger
	staticV3 *spec3.OpenAPI
}

// v3Path is the group version's entry in /openapi/v3.
var v3Path = "apis/" + appsv1alpha1.SchemeGroupVersion.String()

// newGroupOpenAPI starts from what PrepareRun installed for the typed kinds; the v3 document is
// read once from the installed handler, so it stays exactly what the generic server built.
func newGroupOpenAPI(generic *genericapiserver.GenericAPIServer) (*groupOpenAPI, error) {
	o := &groupOpenAPI{v2: generic.OpenAPIVersionedService, v3: generic.OpenAPIV3VersionedService, staticV2: generic.StaticOpenAPISpec}
	if o.v3 != nil {
		rec := httptest.NewRecorder()
		generic.Handler.NonGoRestfulMux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi/v3/"+v3Path, nil))
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("reading the typed kinds' OpenAPI v3: %d", rec.Code)
		}
		o.staticV3 = &spec3.OpenAPI{}
		if err := json.Unmarshal(rec.Body.Bytes(), o.staticV3); err != nil {
			return nil, fmt.Errorf("reading the typed kinds' OpenAPI v3: %w", err)
		}
	}
	return o, nil
}

// update serves the typed kinds' spec merged with the given kinds'.
func (o *groupOpenAPI) update(defined []*kindOpenAPI) {
	if o.v2 != nil && o.staticV2 != nil {
		specs := make([]*spec.Swagger, 0, len(defined))
		for _, k := range defined {
			specs = append(specs, k.v2)
		}
		merged, err := builder.MergeSpecs(o.staticV2, specs...)
		if err == nil {
			err = o.v2.UpdateSpec(merged)
		}
		if err != nil {
			klog.ErrorS(err, "Updating OpenAPI v2; the previous spec stays served")
		}
	}
	if o.v3 != nil && o.staticV3 != nil {
		specs := []*spec3.OpenAPI{o.staticV3}
		for _, k := range defined {
			specs = append(specs, k.v3)
		}
		merged, err := builder.MergeSpecsV3(specs...)
		if err != nil {
			klog.ErrorS(err, "Updating OpenAPI v3; the previous spec stays served")
			return
		}
		o.v3.UpdateGroupVersion(v3Path, merged)
	}
}
