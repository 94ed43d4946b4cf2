package provider

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

const hmacKeyField = "key"

// hmacKey reads the key object versions are derived from, creating it (immutable, 32 random
// bytes) when absent.
func hmacKey(ctx context.Context, secrets corev1client.SecretInterface, name string) ([]byte, error) {
	existing, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		immutable := true
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Immutable:  &immutable,
			Data:       map[string][]byte{hmacKeyField: key},
		}, metav1.CreateOptions{})
		switch {
		case err == nil:
			return key, nil
		case apierrors.IsAlreadyExists(err):
			existing, err = secrets.Get(ctx, name, metav1.GetOptions{})
		default:
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	key, ok := existing.Data[hmacKeyField]
	switch {
	case !ok:
		return nil, fmt.Errorf("expected secret %q to have a key %q; delete the kubernetes secret to trigger an automatic regeneration", name, hmacKeyField)
	case len(key) == 0:
		return nil, fmt.Errorf("expected secret %q to have a non-zero HMAC key; delete the kubernetes secret to trigger an automatic regeneration", name)
	}
	return key, nil
}

// objectVersion identifies an object's configuration and content without revealing either:
// HMAC-SHA256 over the object's JSON and its file bytes, URL-safe base64 with padding.
func objectVersion(key []byte, s Secret, content []byte) (string, error) {
	config, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(config)
	mac.Write(content)
	return base64.URLEncoding.EncodeToString(mac.Sum(nil)), nil
}
