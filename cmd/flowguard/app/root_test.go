package app

import (
	"bytes"
	"strings"
	"testing"
)

func TestExecute(t *testing.T) {
	tests := map[string]struct {
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		"version prints the binary's version": {
			args: []string{"version"}, wantCode: ExitOK, wantOut: "flowguard dev",
		},
		"a bad log level is bad input": {
			args: []string{"version", "--log-level", "loud"}, wantCode: ExitBadInput, wantErr: `--log-level "loud"`,
		},
		"a bad log format is bad input": {
			args: []string{"version", "--log-format", "xml"}, wantCode: ExitBadInput, wantErr: "must be json or console",
		},
		"an unknown command is bad input": {
			args: []string{"frobnicate"}, wantCode: ExitBadInput, wantErr: `unknown command "frobnicate"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(tc.args, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", out.String(), tc.wantOut)
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tc.wantErr)
			}
		})
	}
}
