"""An upgrade's `kubectl apply -k` replaces no worker (session 43's upgrade audit).

deploy/README's upgrades (sessions 40 to 42) run no worker of the previous release beside
one of the new: the API first (its init container migrates before it serves), then every
worker stopped before the new ones start (the StatefulSet scaled to 0 and back). But the
kustomization's one `images` entry sets the API's and the workers' image alike, and the
StatefulSet named no update strategy: Kubernetes' default, RollingUpdate, replaced the
workers one by one on the same apply, old beside new. Now `OnDelete`: a worker takes the
new template only when its pod is deleted (the scale to 0). Rendered as the deployment is
(`kubectl kustomize deploy/k8s`)."""

from __future__ import annotations

import pytest

from tests.support.k8s import Doc, one, render


@pytest.fixture(scope="module")
def rendered() -> list[Doc]:
    return render()


def _images(workload: Doc) -> set[str]:
    spec = workload["spec"]["template"]["spec"]
    return {c["image"] for c in spec["containers"] + spec.get("initContainers", [])}


def test_an_apply_with_a_new_image_rolls_the_api_and_replaces_no_worker(
    rendered: list[Doc],
) -> None:
    api = one(rendered, "Deployment", "dispatch-api")
    worker = one(rendered, "StatefulSet", "dispatch-worker")
    # Why the strategy matters: one image for both, set by one `kustomize edit set image`.
    assert _images(api) == _images(worker) and len(_images(api)) == 1
    assert worker["spec"].get("updateStrategy") == {"type": "OnDelete"}
    # The API rolls as before (default RollingUpdate, or set so): it migrates, then serves.
    assert api["spec"].get("strategy", {"type": "RollingUpdate"})["type"] == "RollingUpdate"
