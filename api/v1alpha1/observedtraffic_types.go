package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObservedTrafficManagedByLabel marks the objects flowguard writes, with the value "flowguard".
const ObservedTrafficManagedByLabel = "app.kubernetes.io/managed-by"

// ObservedTrafficShardAnnotation holds "<index>/<count>": which shard of its namespace an
// object is. ObservedTrafficContentAnnotation holds a digest of the content, so an unchanged
// shard is not written again.
const (
	ObservedTrafficShardAnnotation   = "flowguard.dev/shard"
	ObservedTrafficContentAnnotation = "flowguard.dev/content-sha256"
)

// ObservedTraffic is one shard of the traffic flowguard has learned from Calico flows: edges
// between endpoint identities, per destination port, protocol, action and reporter, with
// time buckets of counts. The elected flowguard replica writes them; every replica reads them
// back through an informer, so all agree on learned traffic and it survives restarts.
//
// An edge lives in the namespace of its destination (of its source when the destination is not
// namespaced; in flowguard's own namespace when neither is), in the shard its key hashes to.
// Shards are sized so that no object passes a byte bound (512 KiB by default, well under
// etcd's 1.5 MiB request limit). Recent buckets are hourly; older ones are merged per day.
// Objects are data, written only by flowguard: read them with kubectl, never edit them.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=otraffic,categories=flowguard
// +kubebuilder:printcolumn:name="Edges",type=integer,JSONPath=`.summary.edges`
// +kubebuilder:printcolumn:name="Flows",type=integer,JSONPath=`.summary.flows`
// +kubebuilder:printcolumn:name="Last Seen",type=date,JSONPath=`.summary.lastSeen`
// +kubebuilder:printcolumn:name="Shard",type=string,JSONPath=`.metadata.annotations.flowguard\.dev/shard`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ObservedTraffic struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Summary totals the shard, for kubectl get.
	// +optional
	Summary ObservedTrafficSummary `json:"summary,omitempty"`

	// BucketSeconds is the width of the hourly (recent) buckets.
	// +kubebuilder:validation:Minimum=1
	BucketSeconds int64 `json:"bucketSeconds"`

	// Endpoints are the identities the edges refer to by index.
	// +optional
	// +kubebuilder:validation:MaxItems=20000
	// +listType=atomic
	Endpoints []TrafficEndpoint `json:"endpoints,omitempty"`

	// Edges are the shard's edges.
	// +optional
	// +kubebuilder:validation:MaxItems=10000
	// +listType=atomic
	Edges []TrafficEdge `json:"edges,omitempty"`
}

// ObservedTrafficSummary totals a shard.
type ObservedTrafficSummary struct {
	Edges int64 `json:"edges"`
	Flows int64 `json:"flows"`
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
}

// TrafficEndpoint is an endpoint identity as Calico reports it.
type TrafficEndpoint struct {
	// Type is wep (workload), hep (host), ns (network set) or net (network).
	// +kubebuilder:validation:Enum=wep;hep;ns;net
	Type string `json:"type"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name is the aggregated name: the pods' generate name with "*", a set's or host's name,
	// or pub/pvt for networks.
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// IP is set for networks and hosts reported with their address.
	// +optional
	IP string `json:"ip,omitempty"`
}

// TrafficEdge is one aggregated edge.
type TrafficEdge struct {
	// Source and Destination index Endpoints.
	// +kubebuilder:validation:Minimum=0
	Source int32 `json:"src"`
	// +kubebuilder:validation:Minimum=0
	Destination int32 `json:"dst"`
	// Protocol is tcp, udp, sctp, icmp, icmp6, ipip, esp or a number.
	Protocol string `json:"proto"`
	// Port is the destination port; absent when aggregated away or the protocol has none.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// +kubebuilder:validation:Enum=allow;deny
	Action string `json:"action"`
	// +kubebuilder:validation:Enum=src;dst;fwd
	Reporter string `json:"reporter"`
	// Buckets are [start, flows, bytes, packets, firstSeen-start, lastSeen-start], times in
	// Unix seconds, oldest first. Arrays rather than objects keep a shard a third of the size.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=atomic
	Buckets [][]int64 `json:"buckets"`
	// Enforced and Pending are the latest policy trace, as `<idx>|<tier>|<kind>:<ns>/<name>|<action>|<rule>`.
	// +optional
	// +listType=atomic
	Enforced []string `json:"enforced,omitempty"`
	// +optional
	// +listType=atomic
	Pending []string `json:"pending,omitempty"`
}

// ObservedTrafficList is a list of ObservedTraffic.
//
// +kubebuilder:object:root=true
type ObservedTrafficList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ObservedTraffic `json:"items"`
}
