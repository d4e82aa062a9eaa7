from expertune.train.data import cap_groups, group_weights


def test_cap_keeps_preferred_first_and_at_most_n_per_group():
    rows = [{"group_id": "g", "response_id": i, "preferred": i == 3, "rating": None} for i in range(5)]
    rows += [{"group_id": "h", "response_id": 9, "preferred": False, "rating": None}]
    kept = cap_groups(rows, 2, seed=0)
    assert sum(r["group_id"] == "g" for r in kept) == 2 and any(r["response_id"] == 3 for r in kept)
    assert cap_groups(rows, None, 0) == rows


def test_inverse_weights_give_each_group_equal_mass():
    ex = [{"group_id": "a"}] * 4 + [{"group_id": "b"}]
    w = group_weights(ex)
    assert abs(sum(w[:4]) - sum(w[4:])) < 1e-12
