"""Whether Kubernetes NetworkPolicies let one pod connect to another's port: the ingress
half of their semantics (kubernetes.io/docs/concepts/services-networking/network-policies),
for checking deploy/k8s offline, where no cluster runs.

- A pod is isolated for ingress once a policy in its namespace selects it (its
  `policyTypes` name Ingress, or are absent); an isolated pod accepts only what one of
  those policies' rules allows, any other pod accepts everything.
- A rule allows a peer (absent or empty `from`: any) on a port (absent or empty `ports`:
  any). A peer with only `podSelector` means pods of the policy's namespace; with
  `namespaceSelector` (and a `podSelector`, both must match) pods of the matching
  namespaces. A named port is the target container's. (`ipBlock` and `endPort` are not
  modelled: a policy using them is refused, never misread.)
- Namespaces carry `kubernetes.io/metadata.name: <name>`, set by Kubernetes itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int] = field(default_factory=dict)  # container port name → number


def pod_of(workload: Doc) -> Pod:
    """The pod a rendered Deployment/StatefulSet makes (kustomize set its namespace)."""
    template = workload["spec"]["template"]
    ports = {
        p["name"]: int(p["containerPort"])
        for c in template["spec"]["containers"]
        for p in c.get("ports", [])
        if "name" in p
    }
    return Pod(workload["metadata"]["namespace"], dict(template["metadata"]["labels"]), ports)


def selects(selector: Doc | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector; an empty one selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], set(e.get("values") or [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]
        if not ok:
            return False
    return True


def _namespace_labels(name: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": name}


def _peer_allows(peer: Doc, policy_namespace: str, source: Pod) -> bool:
    if "ipBlock" in peer:
        raise NotImplementedError("ipBlock peers are not modelled")
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], _namespace_labels(source.namespace))
    else:
        in_namespace = source.namespace == policy_namespace
    return in_namespace and selects(peer.get("podSelector"), source.labels)


def _port_allows(rule_ports: list[Doc], target: Pod, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        if "endPort" in p:
            raise NotImplementedError("port ranges are not modelled")
        wanted = p["port"] if isinstance(p["port"], int) else target.ports.get(p["port"])
        if wanted == port:
            return True
    return False


def _isolating(policies: Iterable[Doc], target: Pod) -> list[Doc]:
    out = []
    for policy in policies:
        spec = policy["spec"]
        types = spec.get("policyTypes") or ["Ingress"]
        if (
            policy["metadata"].get("namespace") == target.namespace
            and "Ingress" in types
            and selects(spec["podSelector"], target.labels)
        ):
            out.append(policy)
    return out


def allows(
    policies: Iterable[Doc], source: Pod, target: Pod, port: int, protocol: str = "TCP"
) -> bool:
    """May `source` open a connection to `target`'s `port` under these NetworkPolicies?"""
    isolating = _isolating(policies, target)
    if not isolating:
        return True
    for policy in isolating:
        namespace = policy["metadata"]["namespace"]
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from") or []
            if (
                not peers or any(_peer_allows(p, namespace, source) for p in peers)
            ) and _port_allows(rule.get("ports") or [], target, port, protocol):
                return True
    return False


def policies_in(docs: Iterable[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] == "NetworkPolicy"]
