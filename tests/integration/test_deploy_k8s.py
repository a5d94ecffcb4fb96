"""The Kubernetes deployment, validated offline and against the code it deploys.

`kubectl kustomize deploy/k8s` renders it (kustomize as kubectl ships it); every built-in
resource is validated against the Kubernetes OpenAPI schemas (`kubernetes-validate`),
every Strimzi resource against the CRDs Strimzi's own generator makes from Strimzi's API
model (`deploy/local/strimzi/crds.sh`, Maven Central); every pod against the "restricted"
Pod Security Standard; and the topics, partitions, environment, bots file, push endpoints,
database host and public URL against the code. One test creates the topics with the code on
the real local broker and shows each KafkaTopic declares exactly the config they got.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import kubernetes_validate
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.groupchat.bots import _BotsFile
from dispatcher.kafka_security import client_options
from dispatcher.settings import REPO_ROOT, Settings
from dispatcher.testing.stack import LocalStack
from streams.topics import changelog_topics, compacted_topics, ensure_topics, topic_names
from tests.support import k8s
from tests.support.k8s import Doc, by_kind, one, render, restricted_violations, topic_overrides
from tests.support.kafka_acls import expected_acls
from tests.support.network_policy import Pod, allows, pod_of, policies_in

KUBERNETES_VERSION = "1.33"  # the oldest minor we promise to run on
NAMESPACE = "neighbour-dispatch"


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    return render()


@pytest.fixture(scope="module")
def strimzi_crds() -> dict[str, Doc]:
    return k8s.strimzi_crds()


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]


def test_every_builtin_resource_matches_the_kubernetes_schema(rendered: list[Doc]) -> None:
    builtin = [d for d in rendered if not d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {d["kind"] for d in builtin} >= {
        "Namespace", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "Ingress",
        "PodDisruptionBudget", "NetworkPolicy",
    }  # fmt: skip
    for doc in builtin:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_can_fail(rendered: list[Doc]) -> None:
    api = json.loads(json.dumps(one(rendered, "Deployment", "dispatch-api")))
    api["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBERNETES_VERSION, strict=True)


def _strimzi_schema(crds: dict[str, Doc], doc: Doc) -> Doc:
    crd = crds[doc["kind"]]
    group, version = doc["apiVersion"].split("/")
    assert group == crd["spec"]["group"]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    schema: Doc = served["schema"]["openAPIV3Schema"]
    return schema


def test_strimzi_resources_match_strimzis_crds(
    rendered: list[Doc], strimzi_crds: dict[str, Doc]
) -> None:
    strimzi = [d for d in rendered if d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {d["kind"] for d in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    for doc in strimzi:
        jsonschema.validate(doc, _strimzi_schema(strimzi_crds, doc))
    user = json.loads(json.dumps(by_kind(strimzi, "KafkaUser")[0]))
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Steal"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(user, _strimzi_schema(strimzi_crds, user))
    # ...and the check bites: v1 has no `spec.zookeeper`, a KafkaTopic needs whole partitions.
    topic = json.loads(json.dumps(by_kind(strimzi, "KafkaTopic")[0]))
    topic["spec"]["partitions"] = "24"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topic, _strimzi_schema(strimzi_crds, topic))


def test_namespace_first_and_everything_in_it(rendered: list[Doc]) -> None:
    assert rendered[0]["kind"] == "Namespace" and rendered[0]["metadata"]["name"] == NAMESPACE
    for doc in rendered[1:]:
        assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_images_come_from_a_registry_with_the_release_tag(rendered: list[Doc]) -> None:
    version = re.search(r'^version = "([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    for name, spec in pod_specs(rendered):
        for c in spec.get("initContainers", []) + spec["containers"]:
            registry, _, rest = c["image"].partition("/")
            assert "." in registry or ":" in registry, f"{name}/{c['name']}: no registry host"
            assert rest.endswith(f":{version[1]}"), f"{name}/{c['name']}: {c['image']}"


def test_every_pod_passes_the_restricted_profile(rendered: list[Doc]) -> None:
    namespace = rendered[0]["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    specs = dict(pod_specs(rendered))
    assert set(specs) == {"dispatch-api", "dispatch-worker"}
    for name, spec in specs.items():
        assert restricted_violations(spec) == [], name
    # The checker bites: the old manifests' pod (runAsNonRoot only) fails it.
    old = {"securityContext": {"runAsNonRoot": True}, "containers": [{"name": "api"}]}
    assert len(restricted_violations(old)) == 3


def _container_env(docs: list[Doc], container: Doc) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if ref := source.get("configMapRef"):
            env.update(one(docs, "ConfigMap", ref["name"])["data"])
        if ref := source.get("secretRef"):
            env.update(one(docs, "Secret", ref["name"])["stringData"])
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", "from-field")
    return env


def _kafka_clients(rendered: list[Doc]) -> Iterator[tuple[str, Doc, Doc]]:
    """(workload, pod spec, container) for every container that talks to Kafka."""
    for name, spec in pod_specs(rendered):
        for c in spec.get("initContainers", []) + spec["containers"]:
            yield name, spec, c


def test_kafka_needs_tls_and_a_scram_user_everywhere(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No plaintext or anonymous listener; ACLs enforced; every container connects with
    SASL_SSL / SCRAM-SHA-512 as its own KafkaUser, whose password comes from the Secret the
    user operator makes (named as the user), and verifies the brokers against the cluster
    CA Secret mounted where DISPATCH_KAFKA_CA_FILE points."""
    (kafka,) = by_kind(rendered, "Kafka")
    cluster = kafka["metadata"]["name"]
    spec = kafka["spec"]
    assert spec["kafka"]["authorization"]["type"] == "simple"
    assert "superUsers" not in spec["kafka"]["authorization"]  # Strimzi's own only
    for listener in spec["kafka"]["listeners"]:
        assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512"
    assert "userOperator" in spec["entityOperator"]
    users = {u["metadata"]["name"]: u for u in by_kind(rendered, "KafkaUser")}
    for u in users.values():
        assert u["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert u["spec"]["authentication"]["type"] == "scram-sha-512"
    used = {}
    for workload, pod, c in _kafka_clients(rendered):
        settings = _settings(_container_env(rendered, c), monkeypatch)
        assert settings.kafka_security_protocol == "SASL_SSL", c["name"]
        assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512", c["name"]
        user = settings.kafka_sasl_username
        assert user in users, c["name"]
        (password,) = [e for e in c["env"] if e["name"] == "DISPATCH_KAFKA_SASL_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}
        ca = settings.kafka_ca_file
        assert ca is not None
        (mount,) = [m for m in c["volumeMounts"] if str(ca.parent) == m["mountPath"]]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == f"{cluster}-cluster-ca-cert"
        assert {"key": "ca.crt", "path": ca.name} in volume["secret"]["items"]
        used.setdefault(workload, set()).add(user)
    assert used == {"dispatch-api": {"dispatch-api"}, "dispatch-worker": {"dispatch-worker"}}


def _acls(user: Doc) -> dict[tuple[str, str, str], set[str]]:
    return {
        (a["resource"]["type"], a["resource"]["name"], a["resource"].get("patternType", "literal")):
        set(a["operations"])
        for a in user["spec"]["authorization"]["acls"]
    }  # fmt: skip


def test_kafka_users_acls_are_exactly_what_the_code_uses(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = one(rendered, "StatefulSet", "dispatch-worker")["spec"]["template"]["spec"]
    settings = _settings(_container_env(rendered, worker["containers"][0]), monkeypatch)
    users = {u["metadata"]["name"]: _acls(u) for u in by_kind(rendered, "KafkaUser")}
    assert users == expected_acls(settings)
    for acls in users.values():
        assert not any(name in ("*", "") for _, name, _ in acls)  # no wildcard resources
        assert all(kind in ("topic", "group") for kind, _, _ in acls)  # nothing cluster-wide


def test_the_worker_may_read_only_the_events_topics_config(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = one(rendered, "StatefulSet", "dispatch-worker")["spec"]["template"]["spec"]
    settings = _settings(_container_env(rendered, worker["containers"][0]), monkeypatch)
    reads = {
        (u["metadata"]["name"], name)
        for u in by_kind(rendered, "KafkaUser")
        for (_, name, _), ops in _acls(u).items()
        if "DescribeConfigs" in ops or "AlterConfigs" in ops
    }
    assert reads == {("dispatch-worker", settings.events_topic)}
    (events,) = [
        ops
        for (_, name, _), ops in _acls(one(rendered, "KafkaUser", "dispatch-worker")).items()
        if name == settings.events_topic
    ]
    assert "AlterConfigs" not in events


def test_worker_tables_persist_across_a_rolling_update(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker pod's RocksDB tables (DISPATCH_DATA_DIR, as the settings read it) on
    its own claim, not an emptyDir: a replaced pod replays only the changelog tail."""
    sts = one(rendered, "StatefulSet", "dispatch-worker")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    spec = sts["spec"]["template"]["spec"]
    assert claim["metadata"]["name"] not in {v["name"] for v in spec["volumes"]}
    (worker,) = spec["containers"]
    data_dir = _settings(_container_env(rendered, worker), monkeypatch).data_dir
    (mount,) = [m for m in worker["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
    assert Path(mount["mountPath"]) == Path(data_dir)


def _settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in [k for k in os.environ if k.startswith("DISPATCH_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_topics_partitions_and_replicas_agree_with_the_code(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = one(rendered, "StatefulSet", "dispatch-worker")["spec"]["template"]["spec"]
    settings = _settings(_container_env(rendered, worker["containers"][0]), monkeypatch)
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(rendered, "KafkaTopic")}
    assert set(topics) == set(topic_names(settings))  # all six: changelogs and config included
    for name, spec in topics.items():
        assert spec["partitions"] == settings.topic_partitions, name
        assert spec["replicas"] == settings.topic_replication_factor, name
        compacted = (spec.get("config") or {}).get("cleanup.policy") == "compact"
        assert compacted == (name in compacted_topics(settings)), name
        assert "min.insync.replicas" not in (spec.get("config") or {}), name
    kafka = by_kind(rendered, "Kafka")[0]["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2
    (listener,) = kafka["listeners"]
    bootstrap = f"{by_kind(rendered, 'Kafka')[0]['metadata']['name']}-kafka-bootstrap"
    assert settings.kafka_bootstrap == f"{bootstrap}:{listener['port']}"
    pools = by_kind(rendered, "KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools) >= settings.topic_replication_factor
    workers = one(rendered, "StatefulSet", "dispatch-worker")["spec"]["replicas"]
    assert workers <= settings.topic_partitions  # more would sit idle


def test_every_pod_gets_configuration_the_code_accepts(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = {f"DISPATCH_{n.upper()}" for n in Settings.model_fields}
    for _, spec in pod_specs(rendered):
        for c in spec.get("initContainers", []) + spec["containers"]:
            env = _container_env(rendered, c)
            assert {k for k in env if k.startswith("DISPATCH_")} <= known, c["name"]
            _settings(env, monkeypatch)  # raises on anything the settings refuse
    api_spec = one(rendered, "Deployment", "dispatch-api")["spec"]["template"]["spec"]
    api = next(c for c in api_spec["containers"] if c["name"] == "api")
    settings = _settings(_container_env(rendered, api), monkeypatch)
    # The bots file: a key of a Secret mounted where DISPATCH_BOTS_FILE points, in the
    # format the API loads.
    assert settings.bots_file is not None
    mount = next(
        m for m in api["volumeMounts"] if str(settings.bots_file).startswith(m["mountPath"] + "/")
    )
    volume = next(v for v in api_spec["volumes"] if v["name"] == mount["name"])
    secret = one(rendered, "Secret", volume["secret"]["secretName"])
    key = str(settings.bots_file).removeprefix(mount["mountPath"] + "/")
    bots = _BotsFile.model_validate_json(secret["stringData"][key])
    assert bots.bots and bots.bots[0].keys()
    # Push endpoints reach the worker (the notify agent), parsed by the settings themselves.
    worker_spec = one(rendered, "StatefulSet", "dispatch-worker")["spec"]["template"]["spec"]
    worker_env = _container_env(rendered, worker_spec["containers"][0])
    assert _settings(worker_env, monkeypatch).push_endpoints
    # The database host in the DSN is a Service here; the public URL is the Ingress host.
    dsn_host = urlparse(settings.pg_dsn.get_secret_value()).hostname
    assert dsn_host in {s["metadata"]["name"] for s in by_kind(rendered, "Service")}
    public = urlparse(settings.public_base_url)
    ingress_doc = by_kind(rendered, "Ingress")[0]
    # Signed links are in request lines: the proxy writes no access log of them.
    annotations = ingress_doc["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/enable-access-log"] == "false"
    ingress = ingress_doc["spec"]
    assert public.scheme == "https" and public.hostname in ingress["tls"][0]["hosts"]
    assert ingress["rules"][0]["host"] == public.hostname
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    api_service = one(rendered, "Service", backend["name"])
    assert backend["port"]["name"] in {p["name"] for p in api_service["spec"]["ports"]}


def test_migrations_run_on_every_rollout(rendered: list[Doc]) -> None:
    assert not by_kind(rendered, "Job"), "a Job's pod template cannot change: it never re-runs"
    api = one(rendered, "Deployment", "dispatch-api")["spec"]["template"]["spec"]
    (init,) = api["initContainers"]
    assert "dispatcher migrate" in " ".join(init["command"])
    assert "dispatcher topics" in " ".join(init["command"])


async def _delete_topics(settings: Settings, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.mark.integration
async def test_every_kafkatopic_carries_exactly_what_dispatcher_topics_creates(
    rendered: list[Doc], stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strimzi's topic operator reverts every topic setting its KafkaTopic does not carry,
    so each spec's config must be exactly what `python -m dispatcher topics`
    (ensure_topics) creates for the manifests' settings: retention.ms where personal data
    flows, max.compaction.lag.ms on the changelogs, compaction, and no min.insync.replicas
    (the cluster's 2 must hold). The code creates the topics on the real local broker with
    the worker's settings, only the connection, names, partitions and replicas this
    broker's; the broker then says what was set."""
    local = stack.settings()  # before _settings puts the manifests' DISPATCH_ into os.environ
    worker = one(rendered, "StatefulSet", "dispatch-worker")["spec"]["template"]["spec"]
    deployed = _settings(_container_env(rendered, worker["containers"][0]), monkeypatch)
    here = deployed.model_copy(
        update={k: getattr(local, k) for k in Settings.model_fields if k.startswith("kafka_")}
        | {
            "commands_topic": stack.topic("k8s-commands"),
            "events_topic": stack.topic("k8s-events"),
            "dead_letter_topic": stack.topic("k8s-deadletter"),
            "config_topic": stack.topic("k8s-config"),
            "app_id": f"{stack.app_id}-k8s",
            "topic_partitions": local.topic_partitions,
            "topic_replication_factor": 1,
        }
    )
    names = topic_names(here)
    created = await ensure_topics(here)
    try:
        assert sorted(created) == sorted(names)
        overrides = await topic_overrides(here, names)
    finally:
        await _delete_topics(here, created)
    as_created = dict(zip(topic_names(deployed), names, strict=True))
    topics = by_kind(rendered, "KafkaTopic")
    assert {t["spec"]["topicName"] for t in topics} == set(as_created)
    for topic in topics:
        name = topic["spec"]["topicName"]
        declared = {k: str(v) for k, v in (topic["spec"].get("config") or {}).items()}
        assert declared == overrides[as_created[name]], name
    # README's data-retention promise itself: Kafka's copies of personal data are bounded.
    bound = str(int(deployed.personal_topic_retention_hours * 3_600_000))
    for name in (deployed.commands_topic, deployed.events_topic, deployed.dead_letter_topic):
        assert overrides[as_created[name]]["retention.ms"] == bound, name
    for name in changelog_topics(deployed):
        assert overrides[as_created[name]]["max.compaction.lag.ms"] == bound, name


def test_the_api_probes_every_worker_replica(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DISPATCH_WORKER_WEB_URLS (the stream-health view's /stats probes) names each replica
    of the worker StatefulSet by its headless Service's per-pod DNS, on its web port."""
    sts = one(rendered, "StatefulSet", "dispatch-worker")
    service = one(rendered, "Service", sts["spec"]["serviceName"])
    assert service["spec"].get("clusterIP") == "None"  # per-pod DNS needs a headless one
    worker = sts["spec"]["template"]["spec"]["containers"][0]
    (port,) = [p["containerPort"] for p in worker["ports"] if p["name"] == "web"]
    assert f"--web-port {port}" in " ".join(worker["command"])
    api_spec = one(rendered, "Deployment", "dispatch-api")["spec"]["template"]["spec"]
    api = next(c for c in api_spec["containers"] if c["name"] == "api")
    urls = _settings(_container_env(rendered, api), monkeypatch).worker_web_urls
    name, headless = sts["metadata"]["name"], service["metadata"]["name"]
    replicas = sts["spec"]["replicas"]
    assert sorted(urls) == sorted(f"http://{name}-{i}.{headless}:{port}" for i in range(replicas))


# ------------------------------------------------------------------ who may connect
# The pods around the deployment that must get in, with the namespaces and labels their
# usual installs give them (ingress-nginx's manifests, the prometheus chart), as
# network-policy.yaml expects; and pods that must not.
INGRESS_CONTROLLER = Pod(
    "ingress-nginx",
    {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/instance": "ingress-nginx",
    },
)
PROMETHEUS = Pod(
    "monitoring", {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/component": "server"}
)
INTRUDERS = {
    "a pod of another namespace": Pod("default", {"app": "debug"}),
    # Anyone who may create pods may label them as they like; not so their namespace.
    "a pod labelled as the ingress controller": Pod("default", INGRESS_CONTROLLER.labels),
    "a pod labelled as Prometheus": Pod("default", PROMETHEUS.labels),
    "another pod of the ingress controller's namespace": Pod(
        "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx", "job-name": "admission"}
    ),
    "another pod of this namespace": Pod(NAMESPACE, {"app": "debug"}),
    "a Kafka broker": Pod(NAMESPACE, {"strimzi.io/cluster": "dispatch-kafka"}),
}


def _api_and_worker(rendered: list[Doc]) -> tuple[Pod, Pod]:
    api = pod_of(one(rendered, "Deployment", "dispatch-api"))
    return api, pod_of(one(rendered, "StatefulSet", "dispatch-worker"))


def test_only_the_ingress_controller_and_prometheus_reach_the_api(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API believes X-Forwarded-For from every address in DISPATCH_TRUSTED_PROXIES, the
    pod CIDR: a pod that could connect could claim any client's address, to dodge the
    per-client sign-in lockout or to lock a staff member out. Only the ingress controller
    (and Prometheus, for /metrics) may connect, on the API's port only."""
    policies = policies_in(rendered)
    api, worker = _api_and_worker(rendered)
    api_spec = one(rendered, "Deployment", "dispatch-api")["spec"]["template"]["spec"]
    container = next(c for c in api_spec["containers"] if c["name"] == "api")
    env = _container_env(rendered, container)
    assert _settings(env, monkeypatch).trusted_proxies  # what makes a connection a risk
    port = api.ports["http"]
    assert allows(policies, INGRESS_CONTROLLER, api, port)
    assert allows(policies, PROMETHEUS, api, port)
    for who, pod in {**INTRUDERS, "a worker": worker}.items():
        assert not allows(policies, pod, api, port), who
    assert not allows(policies, INGRESS_CONTROLLER, api, port + 1)


def test_only_the_api_and_prometheus_reach_the_workers(rendered: list[Doc]) -> None:
    """A worker's web port serves /stats (push endpoint names, which can name a community)
    and /metrics without a token: the API's probes and Prometheus only."""
    policies = policies_in(rendered)
    api, worker = _api_and_worker(rendered)
    port = worker.ports["web"]
    assert allows(policies, api, worker, port)
    assert allows(policies, PROMETHEUS, worker, port)
    for who, pod in {**INTRUDERS, "the ingress controller": INGRESS_CONTROLLER}.items():
        assert not allows(policies, pod, worker, port), who


def test_only_the_api_and_the_workers_reach_kafka(rendered: list[Doc]) -> None:
    """The listener's networkPolicyPeers, as the NetworkPolicy Strimzi makes of them (one
    rule per listener: its port, from those peers) for the cluster's pods."""
    (kafka,) = by_kind(rendered, "Kafka")
    cluster = kafka["metadata"]["name"]
    broker = Pod(NAMESPACE, {"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka"})
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"namespace": NAMESPACE},
        "spec": {
            "podSelector": {"matchLabels": {"strimzi.io/cluster": cluster}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": listener.get("networkPolicyPeers"), "ports": [{"port": listener["port"]}]}
                for listener in kafka["spec"]["kafka"]["listeners"]
            ],
        },
    }
    api, worker = _api_and_worker(rendered)
    for listener in kafka["spec"]["kafka"]["listeners"]:
        port = listener["port"]
        assert allows([policy], api, broker, port) and allows([policy], worker, broker, port)
        for who, pod in {**INTRUDERS, "the ingress controller": INGRESS_CONTROLLER}.items():
            assert not allows([policy], pod, broker, port), who


def test_the_reachability_check_can_fail(rendered: list[Doc]) -> None:
    """Without the API's policy, or with a selector that misses the API's pods, any pod
    gets in: the checks above would fail."""
    api, _ = _api_and_worker(rendered)
    intruder = INTRUDERS["a pod of another namespace"]
    port = api.ports["http"]
    policies = policies_in(rendered)
    assert not allows(policies, intruder, api, port)
    others = [p for p in policies if p["metadata"]["name"] != "dispatch-api"]
    assert len(others) == len(policies) - 1
    assert allows(others, intruder, api, port)
    missing = json.loads(json.dumps(policies))
    for p in missing:
        p["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/name": "dispatch-apl"}}
    assert allows(missing, intruder, api, port)
    # Peers by pod labels alone would admit a look-alike made in this namespace.
    loose = json.loads(json.dumps(policies))
    for p in loose:
        for rule in p["spec"]["ingress"]:
            for peer in rule["from"]:
                peer.pop("namespaceSelector", None)
    lookalike = Pod(NAMESPACE, INGRESS_CONTROLLER.labels)
    assert allows(loose, lookalike, api, port)
    assert not allows(policies, lookalike, api, port)


def test_the_clusters_prometheus_gets_the_alert_rules(rendered: list[Doc]) -> None:
    """The cluster's Prometheus loads the same rules as compose's: the kustomization ships
    deploy/prometheus/alerts.yml verbatim as a ConfigMap (before session 38 it shipped
    only the scrape jobs, so a cluster had no alert at all)."""
    alerts = (REPO_ROOT / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8")
    rules = one(rendered, "ConfigMap", "dispatch-prometheus-rules")
    assert rules["data"] == {"dispatch-alerts.yml": alerts}
