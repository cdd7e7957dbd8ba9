# Package flowguard.report formats what the builtins return for messages: flows as
# "source -> destination:port/protocol", with counts and last seen, the first few and the total.
# User rules may import it.
package flowguard.report

# flow_text describes one flow group returned by flowguard.impact, flowguard.flows or
# flowguard.rule_usage: "shop/web-* -> shop/api-*:8080/TCP (12 connections, last seen
# 2025-10-01T10:00:00Z)". A flow is a source, destination, port and protocol; its count is the
# connections observed.
flow_text(g) := sprintf("%s (%d %s, last seen %s)", [g.flow, g.count, plural(g.count, "connection", "connections"), g.last_seen])

# peer_text names a peer of a flow for people: Calico's aggregated networks "pub" and "pvt" say
# what they are; workloads ("shop/web-*") and addresses are left as they are.
peer_text(name) := "the public internet (pub)" if name == "pub"

else := "private networks (pvt)" if name == "pvt"

else := name

# first_flows lists the first n groups and says how many are left out of total.
first_flows(groups, total, n) := text if {
	total <= n
	text := concat(", ", [flow_text(g) | some i, g in groups; i < n])
} else := sprintf("%s and %d more", [concat(", ", [flow_text(g) | some i, g in groups; i < n]), total - n])

# denied_by says, once each, what denies the given flow groups after a change (their "after"
# verdict, as flowguard.impact returns it): "at ingress by Calico NetworkPolicy shop/x
# spec.ingress[1] (Deny)". Groups without a verdict add nothing.
denied_by(groups) := concat("; ", sort({denial(g.after) | some g in groups}))

# denied_clause is "; denied at ingress by ..." for a message, or "" when the groups carry no
# verdict.
denied_clause(groups) := sprintf("; denied %s", [text]) if {
	text := denied_by(groups)
	text != ""
} else := ""

denial(verdict) := sprintf("at ingress by %s", [decider("ingress", verdict.ingress)]) if {
	verdict.ingress.allowed == false
} else := sprintf("at egress by %s", [decider("egress", verdict.egress)]) if {
	verdict.egress.allowed == false
}

decider(direction, d) := sprintf("%s spec.%s[%d] (%s)", [d.policy, direction, d.rule, d.action]) if {
	d.reason == "rule"
} else := sprintf("the end of tier %s (no rule of the policies that select the %s allows it; the last is %s)", [d.tier, end_of[direction], d.policy]) if {
	d.reason == "tier-default"
} else := d.decided_by

end_of := {"ingress": "destination", "egress": "source"}

# lookback is the window of observed traffic rules judge by, e.g. "24h".
default lookback := "24h"

lookback := data.flowguard.lookback

# parameter returns a rule's parameter, or def when it is not configured.
parameter(rule_id, name, def) := value if {
	value := data.flowguard.parameters[rule_id][name]
} else := def

# exempt is true when ns is in the rule's exempt_namespaces parameter.
exempt(rule_id, ns) if ns in parameter(rule_id, "exempt_namespaces", [])

# plural picks "flow" or "flows".
plural(n, one, many) := one if n == 1

plural(n, one, many) := many if n != 1
