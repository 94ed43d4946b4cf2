package provider

import (
	"context"
	"fmt"

	"sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1"
)

// RuntimeName is what Version reports: not upstream's name, so the driver's logs and metrics
// never pass this provider off as HashiCorp's.
const RuntimeName = "harness-vault-provider"

// Server is the provider's gRPC service for the Secrets Store CSI driver.
type Server struct {
	v1alpha1.UnimplementedCSIDriverProviderServer
	Provider       *Provider
	RuntimeVersion string
}

func (s *Server) Version(context.Context, *v1alpha1.VersionRequest) (*v1alpha1.VersionResponse, error) {
	return &v1alpha1.VersionResponse{Version: "v1alpha1", RuntimeName: RuntimeName, RuntimeVersion: s.RuntimeVersion}, nil
}

func (s *Server) Mount(ctx context.Context, req *v1alpha1.MountRequest) (*v1alpha1.MountResponse, error) {
	cfg, err := Parse(req.GetAttributes(), req.GetTargetPath(), req.GetPermission())
	if err != nil {
		return nil, err
	}
	files, versions, err := s.Provider.Mount(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("error making mount request: %w", err)
	}
	resp := &v1alpha1.MountResponse{}
	for _, f := range files {
		resp.Files = append(resp.Files, &v1alpha1.File{Path: f.Path, Mode: int32(f.Mode), Contents: f.Contents})
	}
	for _, v := range versions {
		resp.ObjectVersion = append(resp.ObjectVersion, &v1alpha1.ObjectVersion{Id: v.ID, Version: v.Version})
	}
	return resp, nil
}
