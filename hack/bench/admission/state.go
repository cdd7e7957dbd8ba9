package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/test/demo"
	"github.com/flowguard/flowguard/test/synth"
)

// applyState puts the cluster state of o.size into the API server and writes its flow log to
// flowLog, returning the number of records in it.
func applyState(ctx context.Context, o options, c *cluster.Cluster, flowLog string) (int, error) {
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: flowguardNamespace}}); err != nil {
		return 0, fmt.Errorf("create namespace %s: %w", flowguardNamespace, err)
	}
	switch o.size {
	case "shop":
		if out, err := c.Kubectl(ctx, "apply", "-f", filepath.Join(o.root, "examples", "shop")); err != nil {
			return 0, fmt.Errorf("apply examples/shop: %w\n%s", err, out)
		}
		n, _, err := demo.ReplayFlows(filepath.Join(o.root, "examples", "shop", "flows.jsonl"), flowLog, time.Now().Add(-time.Minute))
		return n, err
	case "10k":
		return applySynth(ctx, o, c, flowLog)
	}
	return 0, fmt.Errorf("unknown size %q: want shop or 10k", o.size)
}

// applySynth creates test/synth's verdict-scale cluster with its pods (10,000 pods of 2,000
// Deployments in 500 namespaces, 2,000 policies) through the API server, and writes o.flows
// of its flows as a Calico flow log ending now.
func applySynth(ctx context.Context, o options, c *cluster.Cluster, flowLog string) (int, error) {
	cfg := synth.VerdictScale()
	cfg.Pods = true
	sc := synth.Generate(cfg)
	// Namespaces first, then everything else, 16 requests at a time.
	var first, rest []client.Object
	for _, obj := range sc.Objects {
		co, ok := obj.(client.Object)
		if !ok {
			return 0, fmt.Errorf("synthetic %T is not a client.Object", obj)
		}
		if _, ok := obj.(*corev1.Namespace); ok {
			first = append(first, co)
		} else {
			rest = append(rest, co)
		}
	}
	for _, objs := range [][]client.Object{first, rest} {
		if err := createAll(ctx, c.Client, objs, 16); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(o.out, "  created %d objects (%d policies) through the API server\n", len(sc.Objects), sc.Policies)

	fl := sc.Flows(o.flows, 1)
	f, err := os.Create(flowLog)
	if err != nil {
		return 0, fmt.Errorf("create flow log: %w", err)
	}
	defer f.Close()
	// WriteFlowLog spreads records over 5-minute windows of 1,000 flows; end the last one now.
	span := time.Duration(len(fl)/1000+1) * 5 * time.Minute
	if err := synth.WriteFlowLog(f, fl, time.Now().Add(-span)); err != nil {
		return 0, fmt.Errorf("write flow log: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("write flow log: %w", err)
	}
	// Records: one per reporting side (see WriteFlowLog).
	return countLines(flowLog)
}

// createAll creates objs with workers requests in flight; a copy of each is sent, so that objs
// keep their generated form.
func createAll(ctx context.Context, c client.Client, objs []client.Object, workers int) error {
	next := make(chan client.Object)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for obj := range next {
				cp := obj.DeepCopyObject().(client.Object)
				cp.SetResourceVersion("")
				err := c.Create(ctx, cp)
				if _, ns := obj.(*corev1.Namespace); ns && apierrors.IsAlreadyExists(err) {
					continue // kube-system and default come with the control plane
				}
				if err != nil {
					errs <- fmt.Errorf("create %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
					return
				}
			}
		}()
	}
	var err error
send:
	for _, obj := range objs {
		select {
		case next <- obj:
		case err = <-errs:
			break send
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err != nil {
		return err
	}
	return <-errs
}

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	n := 0
	for _, b := range data {
		if b == '\n' {
			n++
		}
	}
	return n, nil
}
