// The harness's stand-in for monis.app/mlog, which the Go module proxy here refuses: the five
// symbols secrets-store-csi-driver v1.6.0 uses, on klog. JSON log output is not provided.
module monis.app/mlog

go 1.24.0

require k8s.io/klog/v2 v2.130.1

require github.com/go-logr/logr v1.4.1 // indirect
