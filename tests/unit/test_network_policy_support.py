"""The NetworkPolicy reader the deploy tests use (tests/support/network_policy.py) on the
cases of Kubernetes' own documentation: isolation, AND of a peer's selectors against OR of
peers, a peer's namespace, named ports."""

from __future__ import annotations

import pytest

from tests.support.network_policy import Pod, allows

DB = Pod("prod", {"role": "db"}, {"pg": 5432})
FRONTEND = Pod("prod", {"role": "frontend"})
CLIENT = Pod("clients", {"role": "client"})
STRANGER = Pod("other", {"role": "client"})


def policy(*peers: dict[str, object], ports: list[object] | None = None, **spec: object) -> dict:
    rule: dict[str, object] = {"from": list(peers)}
    if ports is not None:
        rule["ports"] = ports
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "prod"},
        "spec": {"podSelector": {"matchLabels": {"role": "db"}}, "ingress": [rule], **spec},
    }


def in_namespace(name: str) -> dict[str, object]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def test_a_pod_no_policy_selects_accepts_everyone() -> None:
    assert allows([], STRANGER, DB, 5432)
    other = policy({"podSelector": {}})
    other["spec"]["podSelector"] = {"matchLabels": {"role": "cache"}}
    assert allows([other], STRANGER, DB, 5432)
    egress_only = policy({"podSelector": {}}, policyTypes=["Egress"])
    assert allows([egress_only], STRANGER, DB, 5432)


def test_a_pod_selector_alone_means_the_policys_namespace() -> None:
    p = policy({"podSelector": {"matchLabels": {"role": "frontend"}}})
    assert allows([p], FRONTEND, DB, 5432)
    assert not allows([p], Pod("other", {"role": "frontend"}), DB, 5432)


def test_selectors_of_one_peer_must_both_match_peers_are_alternatives() -> None:
    both = policy(
        {
            "namespaceSelector": in_namespace("clients"),
            "podSelector": {"matchLabels": {"role": "client"}},
        }
    )
    assert allows([both], CLIENT, DB, 5432)
    assert not allows([both], Pod("clients", {"role": "admin"}), DB, 5432)
    assert not allows([both], STRANGER, DB, 5432)
    either = policy(
        {"namespaceSelector": in_namespace("clients")},
        {"podSelector": {"matchLabels": {"role": "client"}}},
    )
    assert allows([either], Pod("clients", {"role": "admin"}), DB, 5432)
    assert not allows([either], STRANGER, DB, 5432)  # a podSelector peer: this namespace


def test_ports_by_name_or_number_and_no_rule_denies_all() -> None:
    named = policy({"podSelector": {}}, ports=[{"port": "pg"}])
    assert allows([named], FRONTEND, DB, 5432)
    assert not allows([named], FRONTEND, DB, 5433)
    assert not allows(
        [policy({"podSelector": {}}, ports=[{"port": 5432, "protocol": "UDP"}])], FRONTEND, DB, 5432
    )
    deny_all = policy()
    deny_all["spec"]["ingress"] = []
    assert not allows([deny_all], FRONTEND, DB, 5432)


def test_expressions_and_unmodelled_peers() -> None:
    peer = {
        "podSelector": {
            "matchExpressions": [{"key": "role", "operator": "In", "values": ["frontend", "api"]}]
        }
    }
    assert allows([policy(peer)], FRONTEND, DB, 5432)
    assert not allows([policy(peer)], Pod("prod", {"role": "batch"}), DB, 5432)
    with pytest.raises(NotImplementedError):
        allows([policy({"ipBlock": {"cidr": "10.0.0.0/8"}})], FRONTEND, DB, 5432)
