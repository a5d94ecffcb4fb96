"""The Kubernetes deployment, session 38: Strimzi's own pods under the namespace's
"restricted" Pod Security, the workers' per-pod DNS while they are not ready, and the
personal-data topics' segment.ms (a bound that holds) and `python -m dispatcher topics`'
answer to a broker's refusal (its own line, not a 10 s wait and a traceback).
"""

from __future__ import annotations

import pytest
import yaml

from tests.support.k8s import Doc, by_kind, one, render, restricted_violations, strimzi_crds


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render()


@pytest.fixture(scope="module")
def crds() -> dict[str, Doc]:
    """kind → Strimzi's CRD, as test_deploy_k8s.py gets them (cached under deploy/local/lib)."""
    return strimzi_crds()


# ------------------------------------------------------------------ Strimzi's pods
# What Strimzi 1.2.0's default pod security provider (BaselinePodSecurityProvider, the
# operator's STRIMZI_POD_SECURITY_PROVIDER_CLASS unset) gives the pods of this cluster
# (persistent-claim storage) where no template sets a securityContext: the broker pod
# fsGroup 0, nothing else. Where a template sets one, every provider returns it as given.
# Both read off Strimzi's own classes (deploy/local/lib/strimzi) with a reflection harness
# (session 38's audit; it needs javac, which the test setup does not install).
_BASELINE_POD = {"kafka": {"fsGroup": 0}, "entity-operator": None}


def _sc(template: Doc, key: str) -> Doc | None:
    sc: Doc | None = (template.get(key) or {}).get("securityContext")
    return sc


def strimzi_pods(docs: list[Doc]) -> dict[str, Doc]:
    """pod name → the pod spec (security-relevant parts) Strimzi makes for the manifests:
    one broker pod per node pool (its own template, property by property, else the
    Kafka's), and the entity operator with its topic and user operator containers."""
    (kafka,) = by_kind(docs, "Kafka")
    pods: dict[str, Doc] = {}
    cluster_t = kafka["spec"]["kafka"].get("template") or {}
    for pool in by_kind(docs, "KafkaNodePool"):
        pool_t = pool["spec"].get("template") or {}

        def pick(key: str, pool_t: Doc = pool_t) -> Doc | None:
            return _sc(pool_t, key) if key in pool_t else _sc(cluster_t, key)

        pod: Doc = {
            "securityContext": pick("pod") or _BASELINE_POD["kafka"],
            "containers": [{"name": "kafka", "securityContext": pick("kafkaContainer")}],
        }
        if "rack" in kafka["spec"]["kafka"]:  # the only init container on internal listeners
            pod["initContainers"] = [
                {"name": "kafka-init", "securityContext": pick("initContainer")}
            ]
        pods[f"{kafka['metadata']['name']}-{pool['metadata']['name']}"] = pod
    eo = kafka["spec"]["entityOperator"]
    eo_t = eo.get("template") or {}
    containers = [
        {"name": f"{op}-operator", "securityContext": _sc(eo_t, f"{op}OperatorContainer")}
        for op in ("topic", "user")
        if f"{op}Operator" in eo
    ]
    pods["entity-operator"] = {
        "securityContext": _sc(eo_t, "pod") or _BASELINE_POD["entity-operator"],
        "containers": containers,
    }
    return pods


def _in_schema(schema: Doc, path: list[str]) -> bool:
    for key in path:
        props = schema.get("properties") or {}
        if key not in props:
            return False
        schema = props[key]
    return True


def test_strimzis_pods_pass_the_restricted_profile(docs: list[Doc], crds: dict[str, Doc]) -> None:
    """The namespace enforces "restricted"; Strimzi's pods get it from the templates, so
    they pass whatever pod security provider the operator was installed with."""
    ns = one(docs, "Namespace", "neighbour-dispatch")["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = strimzi_pods(docs)
    assert set(pods) == {"dispatch-kafka-dual-role", "entity-operator"}
    assert [c["name"] for c in pods["entity-operator"]["containers"]] == [
        "topic-operator",
        "user-operator",
    ]
    for name, pod in pods.items():
        assert restricted_violations(pod) == [], name
    # The fields are Strimzi's (a misspelt one passes the CRD schema, which allows
    # unknown fields, and is silently ignored by the operator).
    (kafka,) = by_kind(docs, "Kafka")
    schema = next(v for v in crds["Kafka"]["spec"]["versions"] if v["name"] == "v1")["schema"][
        "openAPIV3Schema"
    ]
    for part, templates in (
        ("kafka", ("pod", "kafkaContainer", "initContainer")),
        ("entityOperator", ("pod", "topicOperatorContainer", "userOperatorContainer")),
    ):
        for t in templates:
            assert t in kafka["spec"][part]["template"], (part, t)
            path = ["spec", part, "template", t, "securityContext"]
            assert _in_schema(schema, path), path
            for key in kafka["spec"][part]["template"][t]["securityContext"]:
                assert _in_schema(schema, [*path, key]), [*path, key]
    # The init container, were rack awareness turned on, would be restricted too.
    init = _sc(kafka["spec"]["kafka"]["template"], "initContainer")
    assert (
        restricted_violations(
            {
                "containers": [{"name": "kafka-init", "securityContext": init}],
                "securityContext": _sc(kafka["spec"]["kafka"]["template"], "pod"),
            }
        )
        == []
    )


def test_without_the_templates_strimzis_default_pods_are_refused(docs: list[Doc]) -> None:
    """The check bites: the manifests without templates (before session 38) leave the pods
    to the Baseline provider, which the namespace refuses."""
    bare = yaml.safe_load(yaml.safe_dump(docs))
    for d in by_kind(bare, "Kafka"):
        d["spec"]["kafka"].pop("template", None)
        d["spec"]["entityOperator"].pop("template", None)
    pods = strimzi_pods(bare)
    assert restricted_violations(pods["dispatch-kafka-dual-role"]) == [
        "kafka: allowPrivilegeEscalation must be false",
        "kafka: capabilities must drop ALL",
        "kafka: runAsNonRoot must be true",
        "kafka: seccompProfile must be RuntimeDefault or Localhost",
    ]
    assert len(restricted_violations(pods["entity-operator"])) == 8


# ------------------------------------------------------------------ the workers' DNS
def test_worker_dns_names_resolve_while_a_worker_is_not_ready(docs: list[Doc]) -> None:
    """The API probes each worker by its per-pod DNS name (DISPATCH_WORKER_WEB_URLS); the
    worker is not ready (/readyz 503) exactly while it joins, rebalances or recovers, and a
    headless Service publishes a not-ready pod's name only with publishNotReadyAddresses:
    without it the dashboard calls the worker dead just then."""
    sts = one(docs, "StatefulSet", "dispatch-worker")
    service = one(docs, "Service", sts["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    worker = sts["spec"]["template"]["spec"]["containers"][0]
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    urls = one(docs, "ConfigMap", "dispatch-config")["data"]["DISPATCH_WORKER_WEB_URLS"]
    assert f".{service['metadata']['name']}:" in urls
    assert service["spec"].get("publishNotReadyAddresses") is True
