"""The default StorageClass provisions volumes (the hub's database and user homes need it)."""

from __future__ import annotations

import pytest
from cluster_kube import Kube, pod_manifest, running_pod

pytestmark = pytest.mark.cluster


def test_a_claim_on_the_default_storage_class_is_bound_and_writable(
    kube: Kube, namespace: str
) -> None:
    classes = kube.get("storageclass")["items"]
    default = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert default == ["standard"]

    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Mi"}},
            },
        }
    )
    pod = pod_manifest("writer", namespace)
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    kube.apply(pod)
    running_pod(kube, namespace, "writer")
    kube.run("exec", "-n", namespace, "writer", "--", "sh", "-c", "echo kept > /data/file")
    assert kube.run("exec", "-n", namespace, "writer", "--", "cat", "/data/file").strip() == "kept"
    claim = kube.get("pvc", "-n", namespace, "data")
    assert claim["status"]["phase"] == "Bound"
