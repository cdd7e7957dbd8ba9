// Package selector implements the Calico selector language as Calico v3.31 parses and evaluates
// it, so that flowguard agrees with Felix about which endpoints a policy, a rule peer or a network
// set selects.
//
// # Language
//
//	all()                     every endpoint; also what the empty selector means
//	global()                  endpoints outside any namespace (see "global()" below)
//	has(k)                    label k is present, whatever its value
//	k == 'v'   k != 'v'       value equality; != is also true when k is absent
//	k in {'a', 'b'}           value is one of the set; false when k is absent; {} matches nothing
//	k not in {'a', 'b'}       value is none of the set; true when k is absent; {} matches everything
//	k contains 'x'            substring, prefix and suffix tests; false when k is absent
//	k starts with 'x'
//	k ends with 'x'
//	!e   e && e   e || e   (e)  with precedence ! over && over ||
//
// Strings are quoted with ' or " and have no escapes, so a value can hold one kind of quote but
// not both. Label keys are 1 to 512 bytes of [A-Za-z0-9_./-] (so prefixed keys such as
// projectcalico.org/name need no quoting). Only spaces and tabs separate tokens; a newline is an
// error, as it is in Calico. Operator words need no surrounding space where Calico needs none
// (a notin{"x"}, a startswith "x"). Parse errors are *ParseError values carrying the byte
// position of the offending token.
//
// Beyond Calico: parentheses nest at most MaxDepth deep, so that a hostile selector in an
// admission request cannot exhaust the stack; Calico has no such limit, and no real selector
// comes near it.
//
// # global()
//
// Calico's own evaluator treats global() as all(); it only gives global() meaning by rewriting
// namespaceSelectors before evaluating them against endpoint labels: all() becomes
// has(projectcalico.org/namespace) and global() becomes !has(projectcalico.org/namespace).
// Calico's validation refuses global() anywhere but an EntityRule namespaceSelector (use
// UsesGlobal to enforce that). This package follows the rewrite:
//
//   - Matches evaluates global() as !has(projectcalico.org/namespace) on the labels given, and
//     all() as true. Endpoint label sets that carry Calico's automatic labels therefore see
//     global() select exactly the non-namespaced endpoints (host endpoints, GlobalNetworkSets).
//   - MatchesNamespaceOf evaluates a rule's non-empty namespaceSelector for one endpoint as Felix
//     does: label terms against the labels of the endpoint's namespace, all() only for
//     namespaced endpoints, global() only for non-namespaced ones. What an absent (empty)
//     namespaceSelector means (own namespace, or everything) is the caller's decision.
//
// # What it must never do
//
// Evaluation never allocates and never mutates a selector; a *Selector is immutable once parsed
// and safe for concurrent use. The package knows nothing of policies, namespaces or flows beyond
// the label conventions above, and it never guesses: input Calico would reject is rejected.
package selector
