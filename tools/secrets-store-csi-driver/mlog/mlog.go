// Package mlog is the harness's own implementation of the small part of monis.app/mlog that
// secrets-store-csi-driver calls. Text format only: FormatJSON is accepted and logs as text.
package mlog

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"

	"k8s.io/klog/v2"
)

// LogFormat selects the output format.
type LogFormat string

const (
	FormatText LogFormat = "text"
	FormatJSON LogFormat = "json"
)

// Setup returns the function that flushes buffered log lines at exit.
func Setup() func() { return klog.Flush }

// ValidateAndSetKlogLevelAndFormatGlobally sets klog's verbosity; a negative level is an error.
func ValidateAndSetKlogLevelAndFormatGlobally(_ context.Context, level klog.Level, format LogFormat) error {
	if level < 0 {
		return fmt.Errorf("log level %d is negative", level)
	}
	if format != FormatText && format != FormatJSON {
		return fmt.Errorf("unknown log format %q", format)
	}
	if f := flag.Lookup("v"); f != nil {
		return f.Value.Set(strconv.Itoa(int(level)))
	}
	return nil
}

// Error logs msg with err.
func Error(msg string, err error) { klog.ErrorS(err, msg) }

// Fatal logs err and exits 1.
func Fatal(err error) {
	klog.ErrorS(err, "fatal")
	klog.Flush()
	os.Exit(1)
}
