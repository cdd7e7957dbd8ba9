package shop.policy_team_label_test

import data.shop.policy_team_label

test_a_policy_without_the_label if {
	count(policy_team_label.violation) == 1 with input as {"object": {"metadata": {"name": "x"}}}
}

test_a_policy_with_the_label if {
	count(policy_team_label.violation) == 0 with input as {"object": {"metadata": {"name": "x", "labels": {"team": "a"}}}}
}
