package provider

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/vault/api"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// File is one file for the driver to write under the pod's target path.
type File struct {
	Path     string
	Mode     os.FileMode
	Contents []byte
}

// Version is one object's version.
type Version struct {
	ID      string
	Version string
}

// Provider answers Mount requests; its clients outlive single Mounts.
type Provider struct {
	Kube       corev1client.CoreV1Interface
	Defaults   Defaults
	Namespace  string // where the HMAC key Secret lives
	HMACSecret string
	clients    *clientCache
}

// New returns a provider caching up to cacheSize Vault clients.
func New(kube corev1client.CoreV1Interface, d Defaults, namespace, hmacSecret string, cacheSize int) *Provider {
	return &Provider{Kube: kube, Defaults: d, Namespace: namespace, HMACSecret: hmacSecret, clients: newClientCache(cacheSize)}
}

type responseKey struct{ path, method string }

// Mount fetches every object of one Mount request. Any object's error fails the whole Mount.
func (p *Provider) Mount(ctx context.Context, cfg Config) ([]File, []Version, error) {
	key, err := hmacKey(ctx, p.Kube.Secrets(p.Namespace), p.HMACSecret)
	if err != nil {
		slog.Warn("Error generating HMAC key. Mounted secrets will not be assigned a version", "error", err)
		key = nil
	}
	params := cfg.Parameters
	client, err := p.clients.get(params, func() (*Client, error) { return newClient(p.Defaults, params) })
	if err != nil {
		return nil, nil, err
	}
	auth := newJWTAuth(p.Kube, params, p.Defaults.AuthMount)
	responses := map[responseKey]*api.Secret{}
	var files []File
	var versions []Version
	for _, s := range params.Secrets {
		rk := responseKey{s.SecretPath, s.Method}
		secret, ok := responses[rk]
		if !ok {
			slog.Debug("Requesting secret", "secretPath", s.SecretPath, "method", s.Method)
			if secret, err = client.RequestSecret(ctx, auth, s); err != nil {
				return nil, nil, fmt.Errorf("couldn't read secret %q: %w", s.ObjectName, err)
			}
			if secret == nil || secret.Data == nil {
				var warnings []string
				if secret != nil {
					warnings = secret.Warnings
				}
				return nil, nil, fmt.Errorf("empty response from %q, warnings: %v", s.SecretPath, warnings)
			}
			for _, w := range secret.Warnings {
				slog.Warn("Vault warning", "secretPath", s.SecretPath, "warning", w)
			}
			responses[rk] = secret
		} else {
			slog.Debug("Secret fetched from cache", "secretPath", s.SecretPath)
		}
		content, err := extract(secret, s)
		if err != nil {
			return nil, nil, err
		}
		mode := cfg.FilePermission
		if s.FilePermission != 0 {
			mode = s.FilePermission
		}
		version := ""
		if key != nil {
			if version, err = objectVersion(key, s, content); err != nil {
				return nil, nil, err
			}
		}
		files = append(files, File{Path: s.ObjectName, Mode: mode, Contents: content})
		versions = append(versions, Version{ID: s.ObjectName, Version: version})
		slog.Info("secret added to mount response", "directory", cfg.TargetPath, "file", s.ObjectName)
	}
	return files, versions, nil
}

// extract is the object's file content: the whole response as JSON without a secretKey, else
// the key's value (from KV v2's inner `data` when there is one), strings raw, others as JSON,
// then decoded per `encoding`.
func extract(secret *api.Secret, s Secret) ([]byte, error) {
	if s.SecretKey == "" {
		return json.Marshal(*secret)
	}
	data := secret.Data
	if inner, ok := data["data"].(map[string]interface{}); ok {
		data = inner
	}
	value, ok := data[s.SecretKey]
	if !ok {
		return nil, fmt.Errorf("{%s}: {key %q does not exist at the secret path}", s.SecretPath, s.SecretKey)
	}
	var raw []byte
	if str, isString := value.(string); isString {
		raw = []byte(str)
	} else {
		var err error
		if raw, err = json.Marshal(value); err != nil {
			return nil, fmt.Errorf("{%s}: {%w}", s.SecretPath, err)
		}
	}
	decoded, err := decode(raw, s.Encoding)
	if err != nil {
		return nil, fmt.Errorf("{%s}: {%w}", s.SecretPath, err)
	}
	return decoded, nil
}

func decode(raw []byte, encoding string) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "utf-8":
		return raw, nil
	case "base64":
		return base64.StdEncoding.DecodeString(string(raw))
	case "hex":
		return hex.DecodeString(string(raw))
	default:
		return nil, fmt.Errorf("invalid encoding type. Should be utf-8, base64, or hex")
	}
}
