package apiserver

import "testing"

func TestAcceptWithoutProtobufObjects(t *testing.T) {
	for accept, want := range map[string]string{
		"application/vnd.kubernetes.protobuf, application/json":                                                "application/json",
		"application/vnd.kubernetes.protobuf":                                                                  "application/json",
		"application/json;as=Table;v=v1;g=meta.k8s.io,application/json":                                        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
		"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json": "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
	} {
		if got := acceptWithoutProtobufObjects(accept); got != want {
			t.Errorf("%q: got %q, want %q", accept, got, want)
		}
	}
}
