package provider

import (
	"context"
	"fmt"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// tokenLifetime is the lifetime of a token the provider requests itself.
const tokenLifetime = 900

// JWTAuth logs a pod in with its service account token: the one the driver passed for the
// audience, or else one the provider requests, bound to the pod.
type JWTAuth struct {
	kube   corev1client.CoreV1Interface
	params Parameters
	mount  string
}

func newJWTAuth(kube corev1client.CoreV1Interface, p Parameters, defaultMount string) *JWTAuth {
	mount := p.AuthMount
	if mount == "" {
		mount = defaultMount
	}
	return &JWTAuth{kube: kube, params: p, mount: mount}
}

// LoginRequest is the login path (without /v1/) and body.
func (a *JWTAuth) LoginRequest(ctx context.Context) (string, map[string]interface{}, error) {
	jwt := a.params.ServiceAccountToken
	if jwt == "" {
		var err error
		if jwt, err = a.requestToken(ctx); err != nil {
			return "", nil, err
		}
	}
	return fmt.Sprintf("auth/%s/login", a.mount), map[string]interface{}{"jwt": jwt, "role": a.params.RoleName}, nil
}

func (a *JWTAuth) requestToken(ctx context.Context) (string, error) {
	pod := a.params.PodInfo
	var audiences []string
	if a.params.Audience != "" {
		audiences = []string{a.params.Audience}
	}
	expiry := int64(tokenLifetime)
	resp, err := a.kube.ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.ServiceAccountName, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{
			ExpirationSeconds: &expiry,
			Audiences:         audiences,
			BoundObjectRef: &authv1.BoundObjectReference{
				Kind:       "Pod",
				APIVersion: "v1",
				Name:       pod.Name,
				UID:        types.UID(pod.UID),
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("failed to create a service account token for requesting pod %v: %w", pod, err)
	}
	return resp.Status.Token, nil
}
