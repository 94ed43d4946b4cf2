// Command registrar announces a CSI driver to the kubelet through the plugin-registration
// socket (k8s.io/kubelet pluginregistration v1): it asks the driver for its name (CSI
// GetPluginInfo, waiting until the driver answers), then GetInfo names the driver and the host
// path of its CSI socket; a NotifyRegistrationStatus that reports failure ends the process, so
// the container restarts and the kubelet sees a fresh socket. Its flags are node-driver-
// registrar's, so either runs with the same arguments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type registrar struct {
	registration.UnimplementedRegistrationServer
	driver   string
	endpoint string
	failed   chan string
}

func (r *registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	slog.Info("kubelet asked for plugin info", "driver", r.driver, "endpoint", r.endpoint)
	return &registration.PluginInfo{
		Type:              registration.CSIPlugin,
		Name:              r.driver,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if s.PluginRegistered {
		slog.Info("kubelet registered the driver", "driver", r.driver)
	} else {
		select {
		case r.failed <- s.Error:
		default:
		}
	}
	return &registration.RegistrationStatusResponse{}, nil
}

// driverName asks the driver on its CSI socket for its name, until it answers: registering
// before the driver serves makes the kubelet's own dial fail, and it refuses the plugin.
func driverName(socket string, timeout time.Duration) (string, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	identity := csi.NewIdentityClient(conn)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, err := identity.GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
		cancel()
		switch {
		case err == nil && info.GetName() != "":
			return info.GetName(), nil
		case err == nil:
			return "", errors.New("the driver's GetPluginInfo returned no name")
		case time.Now().After(deadline):
			return "", fmt.Errorf("wait for the driver's GetPluginInfo on %s timed out after %s: %w", socket, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// listen removes a socket left by an earlier run, then listens with a umask that keeps the new
// socket private to root.
func listen(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}

func run() error {
	endpoint := flag.String("kubelet-registration-path", "/var/lib/kubelet/plugins/csi-secrets-store/csi.sock", "host path of the driver's CSI socket")
	dir := flag.String("plugin-registration-path", "/registration", "the kubelet's plugins_registry directory, as mounted here")
	csiAddress := flag.String("csi-address", "/csi/csi.sock", "the driver's CSI socket, as mounted here")
	wait := flag.Duration("driver-wait", 2*time.Minute, "how long to wait for the driver to answer")
	flag.Parse()
	if *endpoint == "" {
		return errors.New("-kubelet-registration-path must not be empty")
	}
	name, err := driverName(*csiAddress, *wait)
	if err != nil {
		return err
	}
	driver := &name

	socket := filepath.Join(*dir, *driver+"-reg.sock")
	lis, err := listen(socket)
	if err != nil {
		return err
	}
	defer os.Remove(socket)

	r := &registrar{driver: *driver, endpoint: *endpoint, failed: make(chan string, 1)}
	server := grpc.NewServer()
	registration.RegisterRegistrationServer(server, r)
	served := make(chan error, 1)
	go func() { served <- server.Serve(lis) }()
	slog.Info("registration socket ready", "socket", socket)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-signals:
		slog.Info("stopping", "signal", sig.String())
		server.Stop()
		return nil
	case msg := <-r.failed:
		server.Stop()
		return fmt.Errorf("the kubelet refused the registration of %s: %s", *driver, msg)
	case err := <-served:
		return fmt.Errorf("serving %s: %w", socket, err)
	}
}

func main() {
	if err := run(); err != nil {
		slog.Error(err.Error())
		os.Exit(1)
	}
}
