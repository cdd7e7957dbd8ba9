//go:build e2e

package goldmane_test

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	pb "github.com/flowguard/flowguard/flows/goldmane/proto"
)

// TestRealGoldmane runs the client against the real Goldmane server of Calico v3.31.0, fed
// through its FlowCollector API the way Felix feeds it: flows already held are backfilled by List,
// new ones arrive through Stream, and after the server is killed and restarted (losing its
// memory, and getting Felix's re-sent flows again) the client reconnects and delivers only what
// is new.
func TestRealGoldmane(t *testing.T) {
	pki := newTestPKI(t)
	// One-second windows keep the test short; the client is told the same.
	server := newRealGoldmane(t, pki, time.Second)
	server.start()

	// Before the client starts, the server already holds three flows of a window 10s ago.
	past := time.Now().Unix() - 10
	old := []*pb.Flow{
		gmFlow(withWindow(past, past+1)),
		dbFlow(withWindow(past, past+1), withPending(hit(pb.PolicyKind_StagedKubernetesNetworkPolicy, "shop", "db-lockdown", "default", pb.Action_Deny, 0, 0))),
		gmFlow(withSrc(pb.EndpointType_Network, "-", "pub"), withPort("udp", 53), withAction(pb.Action_Deny),
			withEnforced(endOfTier("default", pb.Action_Deny, 0, hit(pb.PolicyKind_GlobalNetworkPolicy, "", "dns-only", "default", pb.Action_ActionUnspecified, 0, 0))),
			withWindow(past, past+1)),
	}
	server.push(old...)
	server.waitListed(len(old))

	fc := clocktesting.NewFakeClock(time.Now())
	col := make(collector, 16)
	c, _ := runClient(t, goldmane.Options{
		Address: server.addr(), CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey,
		Interval: time.Second, History: 3 * time.Minute, Clock: fc,
		Backoff: wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Cap: time.Second},
	}, col.sink)

	pastWin := recWindow(past, past+1)
	diffRecords(t, []flows.Record{
		record(pastWin, func(r *flows.Record) {
			r.Src = flows.Endpoint{Type: flows.TypeNetwork, Name: "pub"}
			r.Proto, r.DstPort, r.Action = flows.ProtoUDP, 53, flows.ActionDeny
			r.Enforced = []flows.PolicyHit{{Index: 0, Tier: "default", Kind: flows.KindGlobalNetworkPolicy, Name: "dns-only", Action: flows.HitDeny, RuleIndex: -1}}
		}),
		record(pastWin),
		dbRecord(pastWin, func(r *flows.Record) {
			r.Pending = []flows.PolicyHit{{Index: 0, Tier: "default", Kind: flows.KindStagedKubernetesNetworkPolicy, Namespace: "shop", Name: "db-lockdown", Action: flows.HitDeny, RuleIndex: 0}}
		}),
	}, sortRecords(col.take(t, len(old))))

	// New traffic, including a new window of a key List delivered, comes through Stream.
	now := time.Now().Unix()
	fresh := []*pb.Flow{
		gmFlow(withWindow(now, now+1), withBytes(100, 0)),
		gmFlow(withDst(pb.EndpointType_HostEndpoint, "", "node-1"), withPort("tcp", 10250), withWindow(now, now+1)),
	}
	server.push(fresh...)
	nowWin := recWindow(now, now+1)
	diffRecords(t, []flows.Record{
		record(nowWin, func(r *flows.Record) { r.Bytes = 100 }),
		record(nowWin, func(r *flows.Record) { r.Dst = flows.Endpoint{Type: flows.TypeHost, Name: "node-1"}; r.DstPort = 10250 }),
	}, sortRecords(col.take(t, len(fresh))))

	// The server dies. Restarted, it holds nothing until Felix re-sends what it sent before
	// (the same windows) and reports new traffic. The client is held in its backoff until then,
	// so that the replayed windows are certainly in what it streams.
	server.stop()
	waitFor(t, "the client to back off", fc.HasWaiters)
	server.start()
	later := time.Now().Unix()
	server.push(append(fresh, dbFlow(withWindow(later, later+1)))...)
	server.waitListed(len(fresh) + 1)
	fc.Step(time.Second)

	diffRecords(t, []flows.Record{dbRecord(recWindow(later, later+1))}, col.take(t, 1))
	st := c.Stats()
	if st.Duplicates != uint64(len(fresh)) || st.Sessions != 2 || st.Failures != 1 || st.Flows.MalformedTotal() != 0 {
		t.Errorf("stats = %+v, want the %d replayed windows dropped as duplicates over 2 sessions, nothing malformed", st, len(fresh))
	}
	select {
	case r := <-col:
		t.Errorf("a record was delivered twice: %+v", r)
	default:
	}
}

// TestRealGoldmaneRequiresTheClientCertificate shows Goldmane's mutual TLS at work: a client
// whose certificate another CA signed gets nothing and keeps retrying.
func TestRealGoldmaneRequiresTheClientCertificate(t *testing.T) {
	pki := newTestPKI(t)
	server := newRealGoldmane(t, pki, time.Second)
	server.start()
	now := time.Now().Unix() - 5
	server.push(gmFlow(withWindow(now, now+1)))
	server.waitListed(1)

	stranger := newTestPKI(t)
	fc := clocktesting.NewFakeClock(time.Now())
	col := make(collector, 1)
	c, _ := runClient(t, goldmane.Options{
		Address: server.addr(), CAFile: pki.CAFile, CertFile: stranger.ClientCert, KeyFile: stranger.ClientKey,
		Interval: time.Second, Clock: fc,
	}, col.sink)
	waitFor(t, "the client to back off", fc.HasWaiters)
	if st := c.Stats(); st.Failures != 1 || st.Flows.Records != 0 || len(col) != 0 {
		t.Errorf("stats = %+v, want one failed session and no records", st)
	}
}

// TestRealFlowgenFlowsConvert lists what Calico's own flow generator produced in a real Goldmane:
// every flow converts.
func TestRealFlowgenFlowsConvert(t *testing.T) {
	pki := newTestPKI(t)
	// Flowgen backfills 45 minutes of 15s windows; only Goldmane's default window keeps them.
	server := newRealGoldmane(t, pki, 15*time.Second)
	server.start()
	stop := server.runFlowgen()
	const want = 200
	server.waitListed(want)
	stop()

	col := make(collector, 1<<16)
	c, _ := runClient(t, goldmane.Options{
		Address: server.addr(), CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey,
	}, col.sink)
	for _, r := range col.take(t, want) {
		if r.Src.Type != flows.TypeWorkload || r.Dst.Type != flows.TypeWorkload || len(r.Src.Labels) != 5 ||
			len(r.Enforced) != 1 || r.Enforced[0].Kind != flows.KindKubernetesNetworkPolicy ||
			len(r.Pending) != 1 || r.Pending[0].Kind != flows.KindGlobalNetworkPolicy {
			t.Fatalf("flowgen flow converted to %+v", r)
		}
	}
	if n := c.Stats().Flows.MalformedTotal(); n != 0 {
		t.Errorf("%d flowgen flows were refused: %+v", n, c.Stats().Flows)
	}
}

// sortRecords orders records of one window by destination and port, as Goldmane sends a
// window's flows in no particular order.
func sortRecords(rs []flows.Record) []flows.Record {
	slices.SortFunc(rs, func(a, b flows.Record) int {
		if c := cmp.Compare(a.Dst.Name, b.Dst.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.DstPort, b.DstPort)
	})
	return rs
}
