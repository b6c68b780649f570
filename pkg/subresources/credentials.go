package subresources

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
	"github.com/cozystack/apps-apiserver/pkg/kinds"
	"github.com/cozystack/apps-apiserver/pkg/registry"
	"github.com/cozystack/apps-apiserver/pkg/release"
)

// cosiBucketInfo is the part of the BucketInfo document COSI writes into an access's Secret (key
// BucketInfo) that the credentials need.
type cosiBucketInfo struct {
	Spec struct {
		BucketName string `json:"bucketName"`
		SecretS3   *struct {
			Endpoint        string `json:"endpoint"`
			Region          string `json:"region"`
			AccessKeyID     string `json:"accessKeyID"`
			AccessSecretKey string `json:"accessSecretKey"`
		} `json:"secretS3"`
	} `json:"spec"`
}

// credentialsREST serves buckets/credentials: for each user of the bucket, the key pair COSI
// issued for the user's BucketAccess ("<release>-<user>"), read from the Secret that access names.
type credentialsREST struct {
	parent   *registry.REST
	kind     *release.Kind
	resource schema.GroupResource
	secrets  corev1client.SecretsGetter
	dynamic  dynamic.Interface
}

func (r *credentialsREST) New() runtime.Object { return &appsv1alpha1.BucketCredentials{} }
func (r *credentialsREST) Destroy()            {}

// Get returns the bucket's credentials.
func (r *credentialsREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if r.secrets == nil {
		return nil, ErrDisabled(r.resource, name)
	}
	obj, err := r.parent.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	bucket := obj.(*appsv1alpha1.Bucket)
	if bucket.DeletionTimestamp != nil {
		return nil, notReady(r.resource, name, "the bucket is being deleted")
	}
	var users []string
	if bucket.Spec != nil {
		for user := range bucket.Spec.Users {
			users = append(users, user)
		}
	}
	if len(users) == 0 {
		return nil, notReady(r.resource, name, "the bucket has no users: credentials are issued per user of spec.users")
	}
	sort.Strings(users)
	namespace := genericapirequest.NamespaceValue(ctx)
	releaseName := r.kind.ReleaseName(name)
	out := &appsv1alpha1.BucketCredentials{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1alpha1.SchemeGroupVersion.String(), Kind: "BucketCredentials"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: bucket.UID, ResourceVersion: bucket.ResourceVersion},
		Users:      map[string]appsv1alpha1.BucketUserCredentials{},
	}
	for _, user := range users {
		info, err := r.userInfo(ctx, namespace, name, releaseName, user)
		if err != nil {
			return nil, err
		}
		if out.Endpoint == "" {
			out.Endpoint, out.Region, out.BucketName = info.Spec.SecretS3.Endpoint, info.Spec.SecretS3.Region, info.Spec.BucketName
		}
		readonly := bucket.Spec.Users[user].Readonly
		out.Users[user] = appsv1alpha1.BucketUserCredentials{AccessKeyID: info.Spec.SecretS3.AccessKeyID,
			SecretAccessKey: info.Spec.SecretS3.AccessSecretKey, Readonly: readonly != nil && *readonly}
	}
	return out, nil
}

// userInfo reads the BucketInfo of one user's access: the BucketAccess the release's chart created
// for the user names the Secret, so a Secret of the same name written for anything else is never
// read.
func (r *credentialsREST) userInfo(ctx context.Context, namespace, name, releaseName, user string) (*cosiBucketInfo, error) {
	accessName := releaseName + "-" + user
	access, err := r.dynamic.Resource(kinds.COSIBucketAccesses.Resource).Namespace(namespace).Get(ctx, accessName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, notReady(r.resource, name, "BucketAccess %s of user %s does not exist yet", accessName, user)
	}
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("reading BucketAccess %s: %v", accessName, err))
	}
	claim, _, _ := unstructured.NestedString(access.Object, "spec", "bucketClaimName")
	secretName, _, _ := unstructured.NestedString(access.Object, "spec", "credentialsSecretName")
	if claim != releaseName || !belongsTo(access, releaseName) || secretName == "" {
		return nil, notReady(r.resource, name, "BucketAccess %s was not created for this bucket", accessName)
	}
	if granted, _, _ := unstructured.NestedBool(access.Object, "status", "accessGranted"); !granted {
		return nil, notReady(r.resource, name, "access of user %s is not granted yet", user)
	}
	secret, err := r.secrets.Secrets(namespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return nil, secretError(r.resource, name, secretName, err)
	}
	var info cosiBucketInfo
	if err := json.Unmarshal(secret.Data["BucketInfo"], &info); err != nil || info.Spec.SecretS3 == nil ||
		info.Spec.SecretS3.AccessKeyID == "" || info.Spec.SecretS3.AccessSecretKey == "" {
		return nil, notReady(r.resource, name, "Secret %s does not hold S3 credentials (key BucketInfo)", secretName)
	}
	return &info, nil
}
