package app

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolveVersion(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(revision, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: revision}, {Key: "vcs.modified", Value: modified}}
	}
	tests := map[string]struct {
		version, commit string
		info            *debug.BuildInfo
		want            VersionInfo
	}{
		"make build stamps both, and they win over build info": {
			version: "v1.2.3", commit: sha,
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("ffff", "false")},
			want: VersionInfo{Version: "v1.2.3", Commit: sha},
		},
		"go install of a tag: the module version, no commit recorded": {
			info: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			want: VersionInfo{Version: "v1.2.3", Commit: "unknown"},
		},
		"go install of a pseudo-version: its commit prefix": {
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261205091445-3781246abcde"}},
			want: VersionInfo{Version: "v0.0.0-20261205091445-3781246abcde", Commit: "3781246abcde"},
		},
		"go install of a pre-release pseudo-version": {
			info: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261205091445-3781246abcde"}},
			want: VersionInfo{Version: "v1.2.4-0.20261205091445-3781246abcde", Commit: "3781246abcde"},
		},
		"go build in a checkout: the vcs revision, modified when the tree was dirty": {
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(sha, "true")},
			want: VersionInfo{Version: "dev", Commit: sha, Modified: true},
		},
		"go build without vcs information": {
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: VersionInfo{Version: "dev", Commit: "unknown"},
		},
		"no build info at all": {
			want: VersionInfo{Version: "dev", Commit: "unknown"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.want.Go = runtime.Version()
			if got := resolveVersion(tc.version, tc.commit, tc.info); got != tc.want {
				t.Errorf("resolveVersion = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestVersionOutputs(t *testing.T) {
	want := CurrentVersion()
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Execute(args, &out, &errOut); code != ExitOK {
			t.Fatalf("flowguard %v: exit code %d, stderr %q", args, code, errOut.String())
		}
		return out.String()
	}

	t.Run("text and --version print the same line", func(t *testing.T) {
		text, flag := run(t, "version"), run(t, "--version")
		if text != want.String()+"\n" || flag != text {
			t.Errorf("version = %q, --version = %q, want both %q", text, flag, want.String()+"\n")
		}
	})
	t.Run("json has version, commit and go", func(t *testing.T) {
		var got map[string]any
		if err := json.Unmarshal([]byte(run(t, "version", "-o", "json")), &got); err != nil {
			t.Fatalf("version -o json is not JSON: %v", err)
		}
		if got["version"] != want.Version || got["commit"] != want.Commit || got["go"] != runtime.Version() {
			t.Errorf("version -o json = %v, want version %q, commit %q, go %q", got, want.Version, want.Commit, runtime.Version())
		}
	})
	t.Run("an unknown format is bad input", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := Execute([]string{"version", "-o", "yaml"}, &out, &errOut); code != ExitBadInput || !strings.Contains(errOut.String(), `--output "yaml"`) {
			t.Errorf("version -o yaml: exit code %d, stderr %q; want %d naming --output", code, errOut.String(), ExitBadInput)
		}
	})
}
