// Package provider is the harness's Secrets Store CSI provider for Vault and OpenBao, compatible
// with hashicorp/vault-csi-provider 1.7.x: the same SecretProviderClass parameters, files, object
// versions, Vault requests and error texts. Written from a behaviour description; no upstream code.
package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is one entry of the SecretProviderClass's `objects`. Its field names and order are
// part of the object version (the version hashes its JSON encoding), so they must stay as they are.
type Secret struct {
	ObjectName     string                 `yaml:"objectName"`
	SecretPath     string                 `yaml:"secretPath"`
	SecretKey      string                 `yaml:"secretKey"`
	Method         string                 `yaml:"method"`
	SecretArgs     map[string]interface{} `yaml:"secretArgs"`
	FilePermission os.FileMode            `yaml:"filePermission"`
	Encoding       string                 `yaml:"encoding"`
}

// TLS holds the SecretProviderClass's TLS settings: paths inside the provider's container.
type TLS struct {
	CACert      string
	CADirectory string
	ServerName  string
	ClientCert  string
	ClientKey   string
	SkipVerify  bool
}

// PodInfo is the requesting pod, from the driver's volume attributes.
type PodInfo struct {
	Name               string
	UID                string
	Namespace          string
	ServiceAccountName string
}

// Parameters is one Mount's configuration.
type Parameters struct {
	RoleName            string
	Address             string
	Namespace           string
	AuthMount           string
	Audience            string
	TLS                 TLS
	PodInfo             PodInfo
	Secrets             []Secret
	ServiceAccountToken string
}

// Config is a parsed Mount request.
type Config struct {
	Parameters     Parameters
	TargetPath     string
	FilePermission os.FileMode
}

const (
	attrPodName          = "csi.storage.k8s.io/pod.name"
	attrPodUID           = "csi.storage.k8s.io/pod.uid"
	attrPodNS            = "csi.storage.k8s.io/pod.namespace"
	attrPodSA            = "csi.storage.k8s.io/serviceAccount.name"
	attrSATokens         = "csi.storage.k8s.io/serviceAccount.tokens"
	defaultTokenAudience = "vault"
)

// Parse reads the driver's attributes (a JSON string map), target path and permission (a JSON
// number), then validates the result.
func Parse(attributes, targetPath, permission string) (Config, error) {
	params, err := parseParameters(attributes)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Parameters: params, TargetPath: targetPath}
	if err := json.Unmarshal([]byte(permission), &cfg.FilePermission); err != nil {
		return Config{}, err
	}
	return cfg, cfg.validate()
}

func parseParameters(attributes string) (Parameters, error) {
	var attrs map[string]string
	if err := json.Unmarshal([]byte(attributes), &attrs); err != nil {
		return Parameters{}, err
	}
	p := Parameters{
		RoleName:  attrs["roleName"],
		Address:   attrs["vaultAddress"],
		Namespace: attrs["vaultNamespace"],
		Audience:  attrs["audience"],
		TLS: TLS{
			CACert:      attrs["vaultCACertPath"],
			CADirectory: attrs["vaultCADirectory"],
			ServerName:  attrs["vaultTLSServerName"],
			ClientCert:  attrs["vaultTLSClientCertPath"],
			ClientKey:   attrs["vaultTLSClientKeyPath"],
		},
		PodInfo: PodInfo{
			Name:               attrs[attrPodName],
			UID:                attrs[attrPodUID],
			Namespace:          attrs[attrPodNS],
			ServiceAccountName: attrs[attrPodSA],
		},
	}
	if s := attrs["vaultSkipTLSVerify"]; s != "" {
		skip, err := strconv.ParseBool(s)
		if err != nil {
			return Parameters{}, err
		}
		p.TLS.SkipVerify = skip
	}
	k8sMount, authMount := attrs["vaultKubernetesMountPath"], attrs["vaultAuthMountPath"]
	if k8sMount != "" && authMount != "" {
		return Parameters{}, errors.New("cannot set both vaultKubernetesMountPath and vaultAuthMountPath")
	}
	p.AuthMount = k8sMount + authMount
	if objects := attrs["objects"]; objects != "" {
		if err := yaml.Unmarshal([]byte(objects), &p.Secrets); err != nil {
			return Parameters{}, err
		}
	}
	if tokens := attrs[attrSATokens]; tokens != "" {
		var byAudience map[string]struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(tokens), &byAudience); err != nil {
			return Parameters{}, fmt.Errorf("failed to unmarshal service account tokens: %w", err)
		}
		audience := p.Audience
		if audience == "" {
			audience = defaultTokenAudience
		}
		p.ServiceAccountToken = byAudience[audience].Token
	}
	return p, nil
}

func (c Config) validate() error {
	if c.TargetPath == "" {
		return errors.New("missing target path field")
	}
	if c.Parameters.RoleName == "" {
		return errors.New("missing 'roleName' in SecretProviderClass definition")
	}
	if len(c.Parameters.Secrets) == 0 {
		return errors.New("no secrets configured - the provider will not read any secret material")
	}
	seen := map[string]int{}
	var duplicated []string
	for _, s := range c.Parameters.Secrets {
		seen[s.ObjectName]++
		if seen[s.ObjectName] == 2 && s.ObjectName != "" {
			duplicated = append(duplicated, s.ObjectName)
		}
	}
	for _, n := range seen {
		if n > 1 {
			return fmt.Errorf("each `objectName` within a SecretProviderClass must be unique, but the following keys were duplicated: %s", strings.Join(duplicated, ", "))
		}
	}
	return nil
}
