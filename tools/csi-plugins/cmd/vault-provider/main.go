// Command vault-provider is the harness's Secrets Store CSI provider for Vault and OpenBao,
// compatible with hashicorp/vault-csi-provider 1.7.x (same flags, parameters, files, versions,
// Vault requests and errors), written by the harness because the Go module proxy here does not
// serve upstream's. Unlike upstream it can also be pointed at an API server explicitly.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
	"sigs.k8s.io/yaml"

	"harness.local/tools/csi-plugins/provider"
)

// version is set at build time (-X main.version=…).
var version = "dev"

const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

type flags struct {
	endpoint, logLevel, output, healthAddr, hmacSecret, apiServer, namespace string
	debug, showVersion                                                       bool
	cacheSize                                                                int
	defaults                                                                 provider.Defaults
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.endpoint, "endpoint", "/tmp/vault.sock", "unix socket the driver dials")
	flag.StringVar(&f.logLevel, "log-level", "info", "trace, debug, info, warn, error or off")
	flag.BoolVar(&f.debug, "debug", false, "deprecated: debug logging when -log-level is empty")
	flag.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	flag.StringVar(&f.output, "output", "json", "version output: yaml, json or json-pretty")
	flag.StringVar(&f.healthAddr, "health-addr", ":8080", "address of /health/ready")
	flag.StringVar(&f.hmacSecret, "hmac-secret-name", "vault-csi-provider-hmac-key", "Secret holding the key object versions are derived from")
	flag.IntVar(&f.cacheSize, "cache-size", 1000, "Vault clients kept (one per pod and configuration); ≤ 0 disables the cache")
	flag.StringVar(&f.defaults.Address, "vault-addr", "", "default Vault address")
	flag.StringVar(&f.defaults.Namespace, "vault-namespace", "", "default Vault namespace")
	flag.StringVar(&f.defaults.AuthMount, "vault-mount", "kubernetes", "default auth mount")
	flag.StringVar(&f.defaults.TLS.CACert, "vault-tls-ca-cert", "", "CA certificate file for Vault")
	flag.StringVar(&f.defaults.TLS.CADirectory, "vault-tls-ca-directory", "", "directory of CA certificates for Vault")
	flag.StringVar(&f.defaults.TLS.ServerName, "vault-tls-server-name", "", "TLS server name for Vault")
	flag.StringVar(&f.defaults.TLS.ClientCert, "vault-tls-client-cert", "", "client certificate for Vault")
	flag.StringVar(&f.defaults.TLS.ClientKey, "vault-tls-client-key", "", "client key for Vault")
	flag.BoolVar(&f.defaults.TLS.SkipVerify, "vault-tls-skip-verify", false, "do not verify Vault's certificate")
	flag.StringVar(&f.apiServer, "kube-api-server", "", "API server URL (plain HTTP, no credentials) instead of the in-cluster one; for tests")
	flag.StringVar(&f.namespace, "namespace", "", "namespace of the HMAC key Secret; default: the pod's own")
	flag.Parse()
	return f
}

func logLevel(f flags) slog.Leveler {
	level := f.logLevel
	if level == "" && f.debug {
		level = "debug"
	}
	switch strings.ToLower(level) {
	case "trace":
		return slog.Level(-8)
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	case "off":
		return slog.Level(100)
	default:
		return slog.LevelInfo
	}
}

func printVersion(output string) error {
	info := map[string]string{"version": version, "name": provider.RuntimeName, "compatibleWith": "vault-csi-provider 1.7.x"}
	var out []byte
	var err error
	switch output {
	case "json":
		out, err = json.Marshal(info)
	case "json-pretty":
		out, err = json.MarshalIndent(info, "", "  ")
	case "yaml":
		out, err = yaml.Marshal(info)
	default:
		return fmt.Errorf("invalid -output %q: yaml, json or json-pretty", output)
	}
	if err != nil {
		return err
	}
	fmt.Println(strings.TrimSpace(string(out)))
	return nil
}

func kubeConfig(apiServer string) (*rest.Config, error) {
	if apiServer != "" {
		return &rest.Config{Host: apiServer, ContentConfig: rest.ContentConfig{ContentType: "application/json"}}, nil
	}
	return rest.InClusterConfig()
}

func ownNamespace(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	raw, err := os.ReadFile(serviceAccountNamespaceFile)
	if err != nil {
		return "", fmt.Errorf("reading the provider's namespace: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}

func listen(endpoint string) (net.Listener, error) {
	if err := os.Remove(endpoint); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing %s: %w", endpoint, err)
	}
	slog.Info("Opening unix socket", "endpoint", endpoint)
	return net.Listen("unix", endpoint)
}

func logCalls(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (interface{}, error) {
	slog.Info("Processing unary gRPC call", "grpc.method", info.FullMethod)
	start := time.Now()
	resp, err := handler(ctx, req)
	code := "OK"
	if err != nil {
		code = "Unknown"
	}
	slog.Info("Finished unary gRPC call", "grpc.method", info.FullMethod, "grpc.time", time.Since(start).String(), "grpc.code", code, "err", err)
	return resp, err
}

func run() error {
	f := parseFlags()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(f)})))
	if f.showVersion {
		return printVersion(f.output)
	}
	cfg, err := kubeConfig(f.apiServer)
	if err != nil {
		return err
	}
	kube, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	namespace, err := ownNamespace(f.namespace)
	if err != nil {
		return err
	}
	slog.Info("Creating Vault client cache", "size", f.cacheSize)
	p := provider.New(kube, f.defaults, namespace, f.hmacSecret, f.cacheSize)

	lis, err := listen(f.endpoint)
	if err != nil {
		return err
	}
	defer os.Remove(f.endpoint)
	server := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	v1alpha1.RegisterCSIDriverProviderServer(server, &provider.Server{Provider: p, RuntimeVersion: version})

	health := &http.Server{Addr: f.healthAddr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})}
	go func() {
		slog.Info("Starting health handler", "addr", f.healthAddr)
		if err := health.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("health handler stopped", "error", err)
		}
	}()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		slog.Info("stopping", "signal", sig.String())
		server.GracefulStop()
		_ = health.Close()
	}()
	return server.Serve(lis)
}

func main() {
	if err := run(); err != nil {
		slog.Error(err.Error())
		os.Exit(1)
	}
}
