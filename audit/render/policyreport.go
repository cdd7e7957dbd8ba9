package render

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/audit"
)

// The wgpolicyk8s.io/v1alpha2 report types, mirrored here (field names and JSON tags as in
// kubernetes-sigs/wg-policy-prototypes policy-report/apis/wgpolicyk8s.io/v1alpha2) so that
// flowguard needs no dependency for a format it only writes.
type (
	policyReport struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Metadata   prMetadata       `json:"metadata"`
		Summary    prSummary        `json:"summary"`
		Results    []prResult       `json:"results,omitempty"`
		Scope      *objectReference `json:"scope,omitempty"`
	}
	prMetadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels,omitempty"`
	}
	prSummary struct {
		Pass  int `json:"pass"`
		Fail  int `json:"fail"`
		Warn  int `json:"warn"`
		Error int `json:"error"`
		Skip  int `json:"skip"`
	}
	prResult struct {
		Source     string            `json:"source"`
		Policy     string            `json:"policy"`
		Rule       string            `json:"rule,omitempty"`
		Category   string            `json:"category,omitempty"`
		Severity   string            `json:"severity,omitempty"`
		Timestamp  prTimestamp       `json:"timestamp"`
		Result     string            `json:"result"`
		Scored     bool              `json:"scored"`
		Subjects   []objectReference `json:"resources,omitempty"`
		Message    string            `json:"message,omitempty"`
		Properties map[string]string `json:"properties,omitempty"`
	}
	prTimestamp struct {
		Seconds int64 `json:"seconds"`
		Nanos   int32 `json:"nanos"`
	}
	objectReference struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace,omitempty"`
		Name       string `json:"name"`
	}
)

// Chunking keeps each PolicyReport far below etcd's object size limit: a namespace with more
// results is split over several reports (name-1, name-2, ...), as the format has no field for
// results left out.
const (
	prMaxResults  = 500
	prMaxBytes    = 512 << 10
	prMaxFlowProp = 5
)

// WritePolicyReports prints the result as wgpolicyk8s.io/v1alpha2 objects, one YAML document
// each: a ClusterPolicyReport with the cluster-scoped findings and a PolicyReport per namespace
// with findings. Info findings are results of "warn"; every other finding is a "fail".
func WritePolicyReports(w io.Writer, in Input) error {
	name := in.RunName
	if name == "" {
		name = "flowguard-audit"
	}
	r := in.Result
	byNS := map[string][]audit.Finding{}
	for _, f := range r.Findings {
		byNS[f.Namespace()] = append(byNS[f.Namespace()], f)
	}
	nss := slices.Sorted(maps.Keys(byNS))
	if len(nss) == 0 || nss[0] != "" {
		nss = append([]string{""}, nss...) // the cluster report is written even when clean
	}
	first := true
	for _, ns := range nss {
		for _, rep := range policyReportsFor(name, ns, byNS[ns], r) {
			if !first {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
			first = false
			if err := writeOrderedYAML(w, rep); err != nil {
				return fmt.Errorf("write policy report %s/%s: %w", ns, rep.Metadata.Name, err)
			}
		}
	}
	return nil
}

func policyReportsFor(name, ns string, fs []audit.Finding, r audit.Result) []policyReport {
	kind := "PolicyReport"
	if ns == "" {
		kind = "ClusterPolicyReport"
	}
	newReport := func(part int) policyReport {
		n := name
		if part > 1 {
			n += "-" + strconv.Itoa(part)
		}
		return policyReport{APIVersion: "wgpolicyk8s.io/v1alpha2", Kind: kind,
			Metadata: prMetadata{Name: n, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "flowguard"}}}
	}
	var out []policyReport
	cur, size := newReport(1), 0
	for _, f := range fs {
		res := toPolicyResult(f, r)
		b, _ := json.Marshal(res)
		if len(cur.Results) == prMaxResults || (len(cur.Results) > 0 && size+len(b) > prMaxBytes) {
			out = append(out, cur)
			cur, size = newReport(len(out)+1), 0
		}
		size += len(b)
		cur.Results = append(cur.Results, res)
		if res.Result == "warn" {
			cur.Summary.Warn++
		} else {
			cur.Summary.Fail++
		}
	}
	return append(out, cur)
}

func toPolicyResult(f audit.Finding, r audit.Result) prResult {
	res := prResult{
		Source: "flowguard", Policy: f.Rule, Rule: f.Rule, Category: f.Title, Severity: string(f.Severity),
		Timestamp: prTimestamp{Seconds: r.EvaluatedAt.Unix()},
		Result:    "fail", Scored: true,
		Subjects: []objectReference{objectReference(f.Resource)},
		Message:  f.Message,
	}
	if f.Severity == v1alpha1.SeverityInfo {
		res.Result = "warn"
	}
	props := map[string]string{}
	for i, fl := range f.Evidence.Flows {
		if i == prMaxFlowProp {
			break
		}
		props["flow."+strconv.Itoa(i)] = audit.FlowLine(fl)
	}
	if n := max(f.Evidence.FlowsTotal, len(f.Evidence.Flows)); n > 0 {
		props["flows.total"] = strconv.Itoa(n)
	}
	for k, v := range f.Evidence.Facts {
		props["fact."+k] = audit.FactText(v)
	}
	if f.Fix != nil {
		props["fix"] = f.Fix.Description
	}
	if len(props) > 0 {
		res.Properties = props
	}
	return res
}
