package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/hashicorp/vault/api"
)

// Defaults are the process-wide settings from the command line, beneath every Mount's own.
type Defaults struct {
	Address   string
	Namespace string
	AuthMount string
	TLS       TLS
}

// Client is a Vault client and the token it logged in with, shared by every Mount of one pod and
// SecretProviderClass configuration. The token is reused until Vault refuses it.
type Client struct {
	vault *api.Client
	mu    sync.Mutex
}

func newClient(d Defaults, p Parameters) (*Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	for _, layer := range []struct {
		address string
		tls     TLS
	}{{d.Address, d.TLS}, {p.Address, p.TLS}} {
		if err := cfg.ConfigureTLS(&api.TLSConfig{
			CACert:        layer.tls.CACert,
			CAPath:        layer.tls.CADirectory,
			ClientCert:    layer.tls.ClientCert,
			ClientKey:     layer.tls.ClientKey,
			TLSServerName: layer.tls.ServerName,
			Insecure:      layer.tls.SkipVerify,
		}); err != nil {
			return nil, err
		}
		if layer.address != "" {
			cfg.Address = layer.address
		}
	}
	vault, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	for _, ns := range []string{d.Namespace, p.Namespace} {
		if ns != "" {
			vault.SetNamespace(ns)
		}
	}
	return &Client{vault: vault}, nil
}

// login logs in unless the client already holds a token other than `refused`; it reports
// whether it did.
func (c *Client) login(ctx context.Context, auth *JWTAuth, refused string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if current := c.vault.Token(); current != "" && current != refused {
		return false, nil
	}
	path, body, err := auth.LoginRequest(ctx)
	if err != nil {
		return false, err
	}
	req := c.vault.NewRequest(http.MethodPost, "/v1/"+path)
	if err := req.SetJSONBody(body); err != nil {
		return false, err
	}
	secret, err := c.send(ctx, req)
	if err != nil {
		return false, fmt.Errorf("failed to login: %w", err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return false, errors.New("failed to login: the response carries no client token")
	}
	c.vault.SetToken(secret.Auth.ClientToken)
	return true, nil
}

func (c *Client) send(ctx context.Context, req *api.Request) (*api.Secret, error) {
	//nolint:staticcheck // the raw request keeps the method, path and query exactly as configured
	resp, err := c.vault.RawRequestWithContext(ctx, req)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	return api.ParseSecret(resp.Body)
}

// RequestSecret reads one object's path, logging in first if needed and once more if Vault
// refuses a token this call did not just obtain.
func (c *Client) RequestSecret(ctx context.Context, auth *JWTAuth, s Secret) (*api.Secret, error) {
	justLoggedIn, err := c.login(ctx, auth, "")
	if err != nil {
		return nil, err
	}
	req, err := c.request(s)
	if err != nil {
		return nil, err
	}
	secret, err := c.send(ctx, req)
	var refused *api.ResponseError
	if err != nil && !justLoggedIn && errors.As(err, &refused) && refused.StatusCode == http.StatusForbidden {
		if _, again := c.login(ctx, auth, req.ClientToken); again != nil {
			return nil, fmt.Errorf("failed to fetch secret: %w; and failed to reauthenticate: %w", err, again)
		}
		if req, err = c.request(s); err != nil {
			return nil, err
		}
		secret, err = c.send(ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("error requesting secret: %w", err)
	}
	return secret, nil
}

func (c *Client) request(s Secret) (*api.Request, error) {
	path, query, _ := strings.Cut(s.SecretPath, "?")
	method := s.Method
	if method == "" {
		method = http.MethodGet
	}
	req := c.vault.NewRequest(method, ensureV1Prefix(path))
	if query != "" {
		values, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("failed to parse query parameters of secretPath %q of object %q: %w", s.SecretPath, s.ObjectName, err)
		}
		req.Params = values
	}
	if s.SecretArgs != nil {
		if err := req.SetJSONBody(s.SecretArgs); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// ensureV1Prefix makes a secret path an API path: `/v1/x` as is; `v1/x`, `/x` and `x` → `/v1/x`.
func ensureV1Prefix(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/"):
		return path
	case strings.HasPrefix(path, "v1/"):
		return "/" + path
	default:
		return "/v1/" + strings.TrimPrefix(path, "/")
	}
}
