package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// newEventRecorder reports on objects kube-apiserver stores (ApplicationDefinitions) as Events,
// so `kubectl describe` shows what this server made of them.
func newEventRecorder(kube kubernetes.Interface) record.EventRecorder {
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	return broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "cozy-apiserver"})
}
