"""Behind the deployments' TLS proxy, one client's wrong staff tokens lock out only that
client, and the session cookie stays Secure.

Failed staff sign-ins are throttled per client address (dispatcher/api/auth.py), and the
API believes X-Forwarded-For/-Proto only from DISPATCH_TRUSTED_PROXIES (serve.py hands it
to uvicorn). Every request of a deployment arrives from its proxy: the Ingress's pods
(deploy/k8s) or, on one machine, the compose network's gateway (deploy/compose). Each test
takes the API's settings from a deployment file, serves the real app through uvicorn's
proxy handling as serve.py configures it, and attacks through that proxy's address: ten
wrong tokens from one client, then a staff member signing in from another.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from dispatcher.api.app import create_app
from dispatcher.api.auth import FAIL_BURST
from dispatcher.api.deps import ApiDeps
from dispatcher.settings import REPO_ROOT, Settings
from tests.unit.test_api_clock import AuditPool

K8S = REPO_ROOT / "deploy/k8s"
COMPOSE = REPO_ROOT / "deploy/compose/compose.yaml"
STAFF_TOKEN = "s3cret-staff-token"
ATTACKER = "203.0.113.9"
STAFF_MEMBER = "198.51.100.4"

Doc = dict[str, Any]


class NullSink:
    async def send(self, topic: str, key: str, value: bytes) -> None: ...

    async def check(self) -> None: ...


def trusted_proxies(value: str | None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """DISPATCH_TRUSTED_PROXIES as the settings parse it ([] when unset)."""
    for key in [k for k in os.environ if k.startswith("DISPATCH_")]:
        monkeypatch.delenv(key)
    if value is not None:
        monkeypatch.setenv("DISPATCH_TRUSTED_PROXIES", value)
    return Settings().trusted_proxies


def assert_real_networks(trusted: list[str]) -> None:
    """uvicorn quietly takes an unparsable entry as a literal that never matches, and "*"
    or a /0 would believe anyone's claimed address."""
    assert trusted, "a proxy fronts the API, but DISPATCH_TRUSTED_PROXIES is not set"
    for entry in trusted:
        network = ipaddress.ip_network(entry)  # raises on a typo
        assert network.prefixlen > 0, entry


async def attack_through(proxy: str, trusted: list[str]) -> httpx.Response:
    """Ten wrong tokens from one client via `proxy`, then a staff member's right token via
    the same proxy; the staff member's answer."""
    # No refill while it runs (a token every 100 minutes): the default's one every 12 s
    # could turn the eleventh guess into a 401 on a slow machine.
    settings = Settings(
        staff_token=STAFF_TOKEN, trusted_proxies=trusted, failed_sign_ins_per_minute=0.01
    )
    # A sign-in is a staff_audit row.
    deps = ApiDeps(settings=settings, sink=NullSink(), _pool=AuditPool())
    app = create_app(settings, deps)
    # serve.py's uvicorn.run arguments for the forwarded headers, loaded as uvicorn does.
    config = uvicorn.Config(
        app,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        log_config=None,
    )
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(proxy, 41234))
    async with httpx.AsyncClient(transport=transport, base_url="http://api:8080") as c:

        async def sign_in(client: str, token: str) -> httpx.Response:
            headers = {"X-Forwarded-For": client, "X-Forwarded-Proto": "https"}
            return await c.post("/dashboard/login", data={"token": token}, headers=headers)

        for _ in range(int(FAIL_BURST)):
            assert (await sign_in(ATTACKER, "guess")).status_code == 401
        assert (await sign_in(ATTACKER, "guess")).status_code == 429  # the guesser is held
        return await sign_in(STAFF_MEMBER, STAFF_TOKEN)


def assert_not_locked_out(answer: httpx.Response) -> None:
    assert answer.status_code == 303, f"staff locked out: {answer.status_code} {answer.text}"
    assert "secure" in answer.headers["set-cookie"].lower()  # the proxy's https believed


async def test_without_trusted_proxies_one_guesser_locks_out_every_staff_member() -> None:
    """The finding itself (the deployments before the fix): the attack succeeds."""
    answer = await attack_through("10.244.1.7", [])
    assert answer.status_code == 429


# ------------------------------------------------------------------------- Kubernetes
def _k8s_docs() -> list[Doc]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[Doc] = []
    for name in kustomization["resources"]:
        text = (K8S / name).read_text(encoding="utf-8")
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _backends(docs: list[Doc]) -> list[tuple[Doc, str]]:
    """(Service, its port's target) for every backend of every Ingress."""
    out = []
    for ingress in (d for d in docs if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = _one(docs, "Service", backend["name"])
                ports = service["spec"]["ports"]
                (port,) = [p for p in ports if p["name"] == backend["port"]["name"]]
                out.append((service, port["targetPort"]))
    return out


def _fronted_containers(docs: list[Doc]) -> list[Doc]:
    """Every container an Ingress sends traffic to: in the Deployments its backend
    Services select, serving the backend's port."""
    found = []
    for service, target in _backends(docs):
        selector = service["spec"]["selector"].items()
        for d in (d for d in docs if d["kind"] == "Deployment"):
            template = d["spec"]["template"]
            if selector <= template["metadata"]["labels"].items():
                found += [
                    c
                    for c in template["spec"]["containers"]
                    if target in {p["name"] for p in c.get("ports", [])}
                ]
    return found


def _k8s_env_value(docs: list[Doc], container: Doc, key: str) -> str | None:
    value = None
    for source in container.get("envFrom", []):
        if ref := source.get("configMapRef"):
            value = _one(docs, "ConfigMap", ref["name"])["data"].get(key, value)
        if ref := source.get("secretRef"):
            value = _one(docs, "Secret", ref["name"])["stringData"].get(key, value)
    for e in container.get("env", []):
        if e["name"] == key:
            value = e.get("value")
    return value


async def test_k8s_api_behind_the_ingress_trusts_the_ingress_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = _k8s_docs()
    fronted = _fronted_containers(docs)
    assert fronted, "no container behind the Ingress: the manifests changed shape"
    for container in fronted:
        value = _k8s_env_value(docs, container, "DISPATCH_TRUSTED_PROXIES")
        trusted = trusted_proxies(value, monkeypatch)
        assert_real_networks(trusted)
        # An ingress controller pod: an address in each declared range.
        for entry in trusted:
            pod = str(next(ipaddress.ip_network(entry).hosts()))
            assert_not_locked_out(await attack_through(pod, trusted))


# ------------------------------------------------------------------------- compose
def _compose() -> Doc:
    doc: Doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def _published_on_loopback_only(service: Doc) -> bool:
    ports = [str(p) for p in service.get("ports", [])]
    return bool(ports) and all(p.startswith("127.0.0.1:") for p in ports)


async def test_compose_api_behind_the_local_proxy_trusts_the_network_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """compose publishes the API on loopback only, for a TLS proxy on the machine (the
    file's header): the API sees that proxy come from the compose network's gateway, which
    must therefore be fixed (the network's IPAM) and trusted."""
    compose = _compose()
    api = compose["services"]["api"]
    assert _published_on_loopback_only(api), "the API is reachable without the proxy"
    (ipam,) = compose["networks"]["default"]["ipam"]["config"]
    gateway = ipaddress.ip_address(ipam["gateway"])
    assert gateway in ipaddress.ip_network(ipam["subnet"])
    trusted = trusted_proxies(api["environment"].get("DISPATCH_TRUSTED_PROXIES"), monkeypatch)
    assert_real_networks(trusted)
    assert any(gateway in ipaddress.ip_network(t) for t in trusted), trusted
    # Trusting the whole subnet would let any container claim any client address.
    assert all(ipaddress.ip_network(t).num_addresses == 1 for t in trusted), trusted
    assert_not_locked_out(await attack_through(str(gateway), trusted))
