"""Self-tests for tests/k8s_validate.py: the validator must accept good manifests
and reject bad ones (it must not be a rubber stamp).

Custom-resource tests use the vendored tests/crds (or $STACKDEF_CRDS_DIR); without it
they fail loudly with CRDBundleError by design.
"""
from __future__ import annotations

import copy
import time

import kubernetes_validate
import pytest

from tests.k8s_validate import (
    CRDS_ENV_VAR,
    K8S_VERSION,
    VENDORED_CRDS,
    CRDBundleError,
    kuberay_runtime_errors,
    load_crd_index,
    validate_manifest,
    validate_manifests,
)


# --------------------------------------------------------------------------- #
# Sample manifests (fresh dicts per call)
# --------------------------------------------------------------------------- #
def deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo",
                     "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
                "spec": {
                    "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": "1", "memory": "256Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                    }],
                },
            },
        },
    }


def service() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"selector": {"app.kubernetes.io/name": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


SERVE_CONFIG = """\
applications:
- name: llms
  import_path: ray.serve.llm:build_openai_app
  route_prefix: /
"""


def rayservice() -> dict:
    def container(name: str, res: dict) -> dict:
        return {"name": name, "image": "rayproject/ray-llm:2.52.0-py311-cu128",
                "resources": {"requests": dict(res), "limits": dict(res)}}

    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "llm", "namespace": "serving"},
        "spec": {
            "serveConfigV2": SERVE_CONFIG,
            "rayClusterConfig": {
                "rayVersion": "2.52.0",
                "headGroupSpec": {
                    "rayStartParams": {"num-cpus": "0"},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/component": "ray-head"}},
                        "spec": {"containers": [
                            container("ray-head", {"cpu": "2", "memory": "4Gi"})]},
                    },
                },
                "workerGroupSpecs": [{
                    "groupName": "gpu-group",
                    "replicas": 1,
                    "minReplicas": 1,
                    "maxReplicas": 2,
                    "rayStartParams": {"num-gpus": "1"},
                    "template": {"spec": {"containers": [
                        container("ray-worker",
                                  {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"})]}},
                }],
            },
        },
    }


def podmonitor() -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "ray-workers", "namespace": "serving",
                     "labels": {"release": "prometheus"}},
        "spec": {
            "selector": {"matchLabels": {"ray.io/node-type": "worker"}},
            "namespaceSelector": {"matchNames": ["serving"]},
            "podMetricsEndpoints": [{
                "port": "metrics",
                "interval": "30s",
                "relabelings": [{"action": "replace",
                                 "sourceLabels": ["__meta_kubernetes_pod_label_ray_io_cluster"],
                                 "targetLabel": "ray_io_cluster"}],
            }],
        },
    }


def prometheusrule() -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "llm-rules", "namespace": "serving",
                     "labels": {"release": "prometheus"}},
        "spec": {"groups": [{
            "name": "llm.rules",
            "interval": "30s",
            "rules": [
                {"record": "llm:ttft_p95:5m",
                 "expr": "histogram_quantile(0.95, sum by (le) "
                         "(rate(ray_vllm_time_to_first_token_seconds_bucket[5m])))"},
                {"alert": "LLMHighTTFT", "expr": "llm:ttft_p95:5m > 2", "for": "10m",
                 "labels": {"severity": "warning"},
                 "annotations": {"summary": "TTFT p95 above 2s"}},
            ],
        }]},
    }


def httproute() -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "llm", "namespace": "serving"},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "infra"}],
            "hostnames": ["llm.example.com"],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                "backendRefs": [{"name": "llm-serve-svc", "port": 8000}],
                "timeouts": {"request": "300s"},
            }],
        },
    }


def scaledobject() -> dict:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "minReplicaCount": 1,
            "maxReplicaCount": 5,
            "triggers": [{"type": "prometheus",
                          "metadata": {"serverAddress": "http://prometheus:9090",
                                       "query": "sum(rate(http_requests_total[1m]))",
                                       "threshold": "100"}}],
        },
    }


ALL_VALID = [deployment, service, rayservice, podmonitor, prometheusrule, httproute,
             scaledobject]


def _errs(doc: dict) -> list[str]:
    return validate_manifest(doc)


def _assert_error(doc: dict, *needles: str) -> list[str]:
    errs = _errs(doc)
    assert errs, "expected validation errors, got none"
    text = "\n".join(errs)
    for n in needles:
        assert n in text, f"{n!r} not in:\n{text}"
    return errs


# --------------------------------------------------------------------------- #
# Valid samples pass
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("make", ALL_VALID, ids=lambda f: f.__name__)
def test_valid_samples_pass(make):
    assert _errs(make()) == []


def test_k8s_version_is_newest_shipped_by_kubernetes_validate():
    assert kubernetes_validate.__version__ == "1.37.0"
    assert kubernetes_validate.latest_version().startswith(K8S_VERSION)
    assert validate_manifest(deployment(), "1.36") == []  # kind's node image
    with pytest.raises(kubernetes_validate.utils.VersionNotSupportedError):
        validate_manifest(deployment(), "1.99")


def test_errors_are_prefixed_with_kind_and_name():
    d = deployment()
    d["spec"]["replicass"] = 3
    assert all(e.startswith("Deployment/web: ") for e in _errs(d))


# --------------------------------------------------------------------------- #
# Built-in kinds (kubernetes-validate strict)
# --------------------------------------------------------------------------- #
def test_misspelled_field_fails_strict():
    d = deployment()
    d["spec"]["replicass"] = 3
    _assert_error(d, "spec:", "'replicass' was unexpected")


def test_misspelled_nested_and_metadata_fields_fail():
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    d["metadata"]["label"] = {"a": "b"}
    _assert_error(d, "containers[0]", "imagePullPolicyy", "'label' was unexpected")


def test_wrong_type_fails():
    d = deployment()
    d["spec"]["replicas"] = "two"
    _assert_error(d, "spec.replicas")


def test_bad_quantity_fails_although_upstream_schema_accepts_it():
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "abc"
    # Documented gap: kubernetes-validate's Quantity schema is "any string".
    kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    _assert_error(d, "resources.limits.cpu", "'abc' is not a valid Kubernetes quantity")


@pytest.mark.parametrize("q", ["1", "0.5", "500m", "1Gi", "1e3", "2.5G", ".5", 1, 0.25])
def test_good_quantities_pass(q):
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"memory": q}}
    assert _errs(d) == []


def test_agrees_with_upstream_kubernetes_validate_api():
    """Our cached schema path must give the same verdict as the public API."""
    good, bad = deployment(), deployment()
    bad["spec"]["template"]["spec"]["containerz"] = []
    for doc in (good, bad, service()):
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            upstream_ok = True
        except kubernetes_validate.ValidationError:
            upstream_ok = False
        ours_ok = not [e for e in _errs(doc) if "[schema]" in e]
        assert upstream_ok == ours_ok, doc


def test_unknown_kind_is_an_error_not_a_pass():
    _assert_error({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "w"}}, "no schema for example.com/v1 Widget")
    _assert_error({"apiVersion": "apps/v1beta1", "kind": "Deployment",
                   "metadata": {"name": "w"}, "spec": {}}, "no schema")
    # kubernetes-validate's file names drop the group's domain: this is not apps/v1
    d = deployment()
    d["apiVersion"] = "apps.example.com/v1"
    _assert_error(d, "no schema for apps.example.com/v1 Deployment")


def test_null_values_are_reported():
    d = deployment()
    d["spec"]["template"]["spec"]["nodeSelector"] = None
    _assert_error(d, "spec.template.spec.nodeSelector: null value")


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d["metadata"].update(name="Web"), "metadata.name"),
    (lambda d: d["metadata"]["labels"].update({"bad key!": "x"}), "labels: key 'bad key!'"),
    (lambda d: d["metadata"]["labels"].update({"ok": "v" * 64}), "no more than 63"),
    (lambda d: d["spec"]["template"]["metadata"]["labels"].update(
        {"app.kubernetes.io/name": "other"}), "does not match template"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(name="Web_1"),
     "containers[0].name"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
        name="this-name-is-too-long"), "ports[0].name"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0].update(
        name="missing"), "Not found: 'missing'"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].update(
        requests={"cpu": "2"}), "must be less than or equal to cpu limit"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].update(
        requests={"nvidia.com/gpu": "1"}), "limit must be set for non overcommitable"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("image"), "image: Required"),
    (lambda d: d["spec"]["template"]["spec"]["containers"].append(
        dict(d["spec"]["template"]["spec"]["containers"][0])), "containers[1].name: Duplicate value 'web'"),
    (lambda d: d["spec"]["template"]["spec"]["volumes"].append({"name": "cache", "emptyDir": {}}),
     "volumes[1].name: Duplicate value 'cache'"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort=0),
     "containerPort: 0 must be between 1 and 65535"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].pop("httpGet"),
     "readinessProbe: must specify exactly 1 handler type"),
    (lambda d: d["spec"]["template"]["spec"]["volumes"][0].update(configMap={"name": "x"}),
     "must specify exactly 1 volume type"),
    (lambda d: d["spec"]["template"]["spec"]["volumes"][0].pop("emptyDir"),
     "must specify exactly 1 volume type"),
])
def test_apiserver_rules_on_deployment(mutate, needle):
    d = deployment()
    mutate(d)
    _assert_error(d, needle)


def test_apiserver_rules_on_service_configmap_and_pvc():
    s = service()
    s["spec"]["ports"].append({"port": 81})
    _assert_error(s, "spec.ports[1].name: Required value")
    s = service()
    s["metadata"]["name"] = "1web"  # Service names are DNS-1035 labels
    _assert_error(s, "DNS-1035")
    s = service()
    s["spec"]["ports"][0]["targetPort"] = 70000
    _assert_error(s, "targetPort: 70000 must be between 1 and 65535")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "code"},
          "data": {"app.py": "print(1)"}}
    assert _errs(cm) == []
    cm["data"]["pkg/app.py"] = "print(2)"  # keys cannot hold '/'
    _assert_error(cm, "data['pkg/app.py']: a valid config key")
    cm["data"] = {"big.bin": "x" * ((1 << 20) + 1)}
    _assert_error(cm, "Too long")
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "cache"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}
    assert _errs(pvc) == []
    pvc["spec"]["resources"]["requests"]["storage"] = "0"
    _assert_error(pvc, "must be greater than zero")
    del pvc["spec"]["resources"]
    _assert_error(pvc, "requests[storage]: Required value")


# --------------------------------------------------------------------------- #
# Unknown-field sweep: adding an unknown key to any object must be reported,
# except for free-form maps. Proves strictness reaches every level.
# --------------------------------------------------------------------------- #
# Free-form maps (additionalProperties: <schema>): arbitrary keys are legal there.
_MAP_KEYS = {"labels", "annotations", "matchLabels", "nodeSelector", "rayStartParams",
             "limits", "requests"}


def _is_free_form_map(path: tuple) -> bool:
    if path and path[-1] in _MAP_KEYS:
        return True
    return len(path) >= 2 and path[-1] == "metadata" and "triggers" in path  # KEDA


def _dict_paths(obj, path=()):
    if isinstance(obj, dict):
        yield path
        for k, v in obj.items():
            yield from _dict_paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _dict_paths(v, path + (i,))


def _at(obj, path):
    for p in path:
        obj = obj[p]
    return obj


@pytest.mark.parametrize("make", [deployment, rayservice, podmonitor, prometheusrule,
                                  httproute, scaledobject], ids=lambda f: f.__name__)
def test_unknown_field_rejected_at_every_object_level(make):
    base = make()
    checked = 0
    for path in _dict_paths(base):
        if _is_free_form_map(path):
            continue
        doc = copy.deepcopy(base)
        _at(doc, path)["zzUnknownField"] = 1
        errs = _errs(doc)
        assert any("zzUnknownField" in e for e in errs), f"not rejected at {path}: {errs}"
        checked += 1
    assert checked >= 5


# --------------------------------------------------------------------------- #
# Custom resources (CRD openAPIV3Schema, strict)
# --------------------------------------------------------------------------- #
def test_rayservice_unknown_field_under_rayclusterconfig_fails():
    r = rayservice()
    r["spec"]["rayClusterConfig"]["headGroupSpecs"] = {}
    _assert_error(r, "spec.rayClusterConfig", "'headGroupSpecs' was unexpected")


def test_rayservice_unknown_field_in_embedded_pod_template_fails():
    r = rayservice()
    r["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"][
        "containers"][0]["imagee"] = "x"
    _assert_error(r, "'imagee' was unexpected")


def test_rayservice_serveconfigv2_must_be_string():
    r = rayservice()
    r["spec"]["serveConfigV2"] = {"applications": []}
    _assert_error(r, "spec.serveConfigV2")


def test_rayservice_name_48_chars_fails_47_passes():
    r = rayservice()
    r["metadata"]["name"] = "a" * 48
    _assert_error(r, "no more than 47 characters")
    r["metadata"]["name"] = "a" * 47
    assert _errs(r) == []


def test_rayservice_uppercase_or_leading_digit_name_fails():
    r = rayservice()
    r["metadata"]["name"] = "LLM"
    _assert_error(r, "DNS1035")
    r["metadata"]["name"] = "1llm"  # valid DNS-1123, invalid DNS-1035
    _assert_error(r, "DNS1035")


def test_worker_group_min_greater_than_max_fails():
    r = rayservice()
    r["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].update(minReplicas=3, maxReplicas=2)
    _assert_error(r, "minReplicas (3) must be <= maxReplicas (2)")


def test_int32_format_and_list_map_uniqueness_enforced():
    r = rayservice()
    r["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = 2**31
    _assert_error(r, "maxReplicas", "int32")
    r = rayservice()
    c = r["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    c["env"] = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    _assert_error(r, "duplicate entries for list-map keys")


def test_crd_served_version_is_used():
    r = rayservice()
    r["apiVersion"] = "ray.io/v2"
    _assert_error(r, "not a served version")


def test_podmonitor_broken_fails():
    p = podmonitor()
    p["spec"]["podMetricsEndpoints"][0]["interval"] = "30 seconds"  # pattern
    p["spec"]["podMetricsEndpoints"][0]["scrapeTimeOut"] = "10s"    # unknown field
    p["spec"]["podMetricsEndpoints"][0]["relabelings"][0]["action"] = "rename"  # enum
    _assert_error(p, "interval", "'scrapeTimeOut' was unexpected", "action")


def test_prometheusrule_broken_fails():
    r = prometheusrule()
    del r["spec"]["groups"][0]["rules"][1]["expr"]                 # required
    r["spec"]["groups"][0]["rules"][1]["for"] = "ten minutes"      # pattern
    r["spec"]["groups"][0]["rules"][0]["severity"] = "page"        # unknown field
    _assert_error(r, "'expr' is a required property", "for", "'severity' was unexpected")


def test_cel_rules_are_evaluated():
    h = httproute()
    h["spec"]["rules"][0]["matches"][0]["path"]["value"] = "v1"
    h["spec"]["rules"][0]["backendRefs"][0].pop("port")
    h["spec"]["rules"][0]["timeouts"]["backendRequest"] = "600s"
    _assert_error(h, "[cel]", "start with '/'", "Must have port for Service reference",
                  "backendRequest timeout cannot be longer than request timeout")
    s = scaledobject()
    s["spec"]["minReplicaCount"] = 10
    _assert_error(s, "[cel] spec: minReplicaCount must be less than or equal to maxReplicaCount")


def test_cel_sees_crd_defaults_and_escaped_names():
    # parentRefs[].kind/group are only set by CRD defaulting; the rule references
    # them and p.__namespace__ (escaped "namespace"): must evaluate, not error.
    h = httproute()
    h["spec"]["parentRefs"].append({"name": "gateway", "namespace": "infra"})
    errs = _assert_error(h, "sectionName must be")
    assert not any("could not be evaluated" in e for e in errs), errs


# --------------------------------------------------------------------------- #
# KubeRay v1.7.0 runtime validation
# --------------------------------------------------------------------------- #
def _rc(r):
    return r["spec"]["rayClusterConfig"]


def _worker(r):
    return _rc(r)["workerGroupSpecs"][0]


@pytest.mark.parametrize("mutate,needle", [
    (lambda r: r["metadata"].setdefault("annotations", {}).update(
        {"ray.io/initializing-timeout": "soon"}), "invalid format"),
    (lambda r: r["metadata"].setdefault("annotations", {}).update(
        {"ray.io/initializing-timeout": "-5"}), "must be positive"),
    (lambda r: r["metadata"].setdefault("annotations", {}).update(
        {"ray.io/initializing-timeout": "0s"}), "must be positive"),
    (lambda r: r["spec"].update(upgradeStrategy={"type": "BlueGreen"}), "upgradeStrategy.type"),
    (lambda r: _rc(r)["headGroupSpec"].update(headService={"metadata": {"name": "x"}}),
     "headService.metadata.name should not be set"),
    (lambda r: _worker(r)["template"]["spec"].update(containers=[]),
     "at least one container"),
    (lambda r: _rc(r)["headGroupSpec"]["template"]["spec"].update(containers=[]),
     "headGroupSpec: should have at least one container"),
    (lambda r: _worker(r).pop("minReplicas"), "minReplicas must be set when autoscaling"),
    (lambda r: _worker(r).update(replicas=-1), "replicas: must be >= 0"),
    (lambda r: _worker(r).update(resources={"GPU": "1"}),
     "should not be set in both rayStartParams and resources"),
    (lambda r: _worker(r)["rayStartParams"].update(labels="a=b"),
     "rayStartParams['labels'] is not supported"),
    (lambda r: _worker(r).update(labels={"bad key!": "x"}), "invalid label key"),
    (lambda r: _worker(r).update(priority=5), "requires autoscaler v2"),
    (lambda r: r["spec"].update(rayClusterDeletionDelaySeconds=-1), "non-negative"),
    (lambda r: _worker(r).update(idleTimeoutSeconds=60), "requires autoscaler v2"),
    (lambda r: _rc(r).update(authOptions={"mode": "token"}, rayVersion="2.50.0"),
     "needs Ray >= 2.52.0"),
    (lambda r: _rc(r).update(authOptions={"enableK8sTokenAuth": True}),
     "not supported for RayService"),
    (lambda r: r["spec"].update(upgradeStrategy={"type": "NewClusterWithIncrementalUpgrade"}),
     "Ray Autoscaler is required"),
    (lambda r: r["spec"].update(serveConfigV2="applications: [unclosed"), "not valid YAML"),
])
def test_kuberay_runtime_rules(mutate, needle):
    r = rayservice()
    mutate(r)
    errs = kuberay_runtime_errors(r)
    assert any(needle in e for e in errs), errs
    assert any(needle in e for e in _errs(r))  # wired into validate_manifest


@pytest.mark.parametrize("timeout", ["5m", "1h30m", "300", "1.5h"])
def test_kuberay_initializing_timeout_valid_values(timeout):
    r = rayservice()
    r["metadata"]["annotations"] = {"ray.io/initializing-timeout": timeout}
    assert kuberay_runtime_errors(r) == []


def test_kuberay_autoscaling_v2_allows_idle_timeout_and_missing_min_max():
    r = rayservice()
    _rc(r).update(enableInTreeAutoscaling=True, autoscalerOptions={"version": "v2"})
    _worker(r).update(idleTimeoutSeconds=60)
    del _worker(r)["minReplicas"]
    assert _errs(r) == []


# --------------------------------------------------------------------------- #
# CRD bundle location: loud failure
# --------------------------------------------------------------------------- #
def test_unset_crds_env_var_uses_the_vendored_schemas(monkeypatch):
    monkeypatch.delenv(CRDS_ENV_VAR, raising=False)
    # A fresh clone needs nothing beside it: the schemas ship in tests/crds.
    assert load_crd_index().dir == VENDORED_CRDS
    assert validate_manifest(rayservice()) == []
    broken = rayservice()
    broken["spec"]["bogus"] = 1
    assert validate_manifest(broken) != []


def test_missing_or_empty_crds_dir_is_a_loud_error(monkeypatch, tmp_path):
    monkeypatch.setenv(CRDS_ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(CRDBundleError, match=CRDS_ENV_VAR):
        validate_manifest(podmonitor())
    monkeypatch.setenv(CRDS_ENV_VAR, str(tmp_path))
    with pytest.raises(CRDBundleError, match="no CustomResourceDefinitions"):
        load_crd_index()
    crd = VENDORED_CRDS / "keda" / "keda.sh_scaledobjects.yaml"
    for copy_name in ("a.yaml", "b.yaml"):
        (tmp_path / copy_name).write_text(crd.read_text())
    with pytest.raises(CRDBundleError, match="ScaledObject.keda.sh is defined twice"):
        load_crd_index()


def test_bundle_has_expected_crds():
    idx = load_crd_index()
    for group, kind in [("ray.io", "RayService"), ("monitoring.coreos.com", "PodMonitor"),
                        ("monitoring.coreos.com", "PrometheusRule"), ("keda.sh", "ScaledObject"),
                        ("gateway.networking.k8s.io", "HTTPRoute")]:
        assert idx.knows_group_kind(group, kind), (group, kind)


# --------------------------------------------------------------------------- #
# Many manifests
# --------------------------------------------------------------------------- #
def test_validate_manifests_flags_duplicates_and_is_fast():
    docs = [make() for make in ALL_VALID]
    assert validate_manifests(docs) == []  # warm caches
    many = []
    for i in range(15):
        for make in ALL_VALID:
            d = make()
            d["metadata"]["name"] = f"{d['metadata']['name']}-{i}"
            many.append(d)
    t0 = time.perf_counter()
    assert validate_manifests(many) == []
    elapsed = time.perf_counter() - t0
    assert elapsed < 10, f"{len(many)} manifests took {elapsed:.2f}s"
    errs = validate_manifests([service(), service()])
    assert any("duplicate object" in e for e in errs)


def test_rayservice_pod_templates_get_apiserver_pod_checks():
    r = rayservice()
    head = _rc(r)["headGroupSpec"]["template"]
    head["metadata"]["labels"]["bad key!"] = "x"
    _worker(r)["template"]["spec"]["containers"][0]["resources"]["requests"][
        "nvidia.com/gpu"] = "2"
    _assert_error(r, "headGroupSpec.template.metadata.labels: key 'bad key!'",
                  "must be equal to nvidia.com/gpu limit")


def test_int32_overflow_in_builtin_kind_fails():
    d = deployment()
    d["spec"]["replicas"] = 2**31
    _assert_error(d, "spec.replicas", "int32")


# --------------------------------------------------------------------------- #
# Structural-schema conversion on a synthetic CRD (covers x-kubernetes-* features
# the bundled CRDs do not all use)
# --------------------------------------------------------------------------- #
WIDGET_CRD = """\
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  versions:
  - name: v1beta1
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [size, mode]
            x-kubernetes-validations:
            - rule: "self.mode != 'slow' || has(self.count)"
              message: slow mode needs count
            - rule: "self.size == oldSelf.size"
              message: size is immutable
            properties:
              size:
                x-kubernetes-int-or-string: true
                anyOf: [{type: integer}, {type: string}]
              port: {x-kubernetes-int-or-string: true}
              mode: {type: string, default: fast, enum: [fast, slow]}
              count: {type: integer, format: int32}
              when: {type: string, format: date-time}
              policy: {type: string, pattern: '^(?i)(abort|warn)?$'}
              raw: {type: object, x-kubernetes-preserve-unknown-fields: true}
              partlyKnown:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties: {n: {type: integer}}
              embedded:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
              opaque: {type: object}
              settings: {type: object, additionalProperties: {type: string}}
              tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
              env:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name, protocol]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    protocol: {type: string, default: TCP}
                    value: {type: string}
"""

OTHER_FILE = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-crd}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {enabled: {type: boolean}}}
  names: {kind: Gadget, plural: gadgets}  # after versions: not controller-gen's order
"""


@pytest.fixture(scope="module")
def widget_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("crds")
    (d / "example").mkdir()
    (d / "example" / "widgets.yaml").write_text(WIDGET_CRD)
    (d / "example" / "more.yaml").write_text(OTHER_FILE)
    return d


def widget(**spec) -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w1", "labels": {"a": "b"}},
            "spec": {"size": 3, **spec}}


@pytest.mark.parametrize("spec", [
    {},
    {"size": "3Gi"},
    {"port": "http"},
    {"port": 8080},
    {"mode": "slow", "count": 1},
    {"when": "2026-01-02T03:04:05Z"},
    {"policy": "WARN"},
    {"raw": {"anything": {"goes": [1, "x", {"deep": [True]}]}}},
    {"partlyKnown": {"n": 1, "extra": True}},
    {"embedded": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                  "data": {"k": "v"}}},
    {"opaque": {}},
    {"settings": {"any-key": "v"}},
    {"tags": ["a", "b"]},
    {"env": [{"name": "A"}, {"name": "A", "protocol": "UDP"}]},
])
def test_synthetic_crd_valid(widget_dir, spec):
    assert validate_manifest(widget(**spec), crds_dir=widget_dir) == []


@pytest.mark.parametrize("spec,needle", [
    ({"size": 1.5}, "spec.size"),
    ({"size": True}, "spec.size"),
    ({"port": 1.5}, "spec.port"),
    ({"mode": "medium"}, "spec.mode"),
    ({"mode": "slow"}, "slow mode needs count"),
    ({"count": 2**31}, "int32"),
    ({"when": "yesterday"}, "date-time"),
    ({"policy": "abort\n"}, "spec.policy"),
    ({"partlyKnown": {"n": "one"}}, "spec.partlyKnown.n"),
    ({"embedded": {"metadata": {"name": "x"}}}, "'apiVersion' is a required property"),
    ({"embedded": {"apiVersion": "v1", "kind": "X", "metadata": {"nam": "x"}}}, "'nam'"),
    ({"opaque": {"x": 1}}, "'x' was unexpected"),
    ({"settings": {"k": 1}}, "spec.settings.k"),
    ({"tags": ["a", "a"]}, "non-unique"),
    ({"env": [{"name": "A"}, {"name": "A", "protocol": "TCP"}]}, "duplicate entries"),
    ({"extra": 1}, "'extra' was unexpected"),
])
def test_synthetic_crd_invalid(widget_dir, spec, needle):
    errs = validate_manifest(widget(**spec), crds_dir=widget_dir)
    assert any(needle in e for e in errs), errs


def test_synthetic_crd_misc(widget_dir):
    w = widget()
    del w["spec"]["size"]
    assert any("'size' is a required property" in e
               for e in validate_manifest(w, crds_dir=widget_dir))
    w = widget()
    w["apiVersion"] = "example.com/v1beta1"  # defined but not served
    assert any("not a served version" in e for e in validate_manifest(w, crds_dir=widget_dir))
    w = widget()
    w["metadata"]["labels"] = {"a": "b" * 70}
    assert any("no more than 63" in e for e in validate_manifest(w, crds_dir=widget_dir))
    g = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
         "spec": {"enabled": True}}
    assert validate_manifest(g, crds_dir=widget_dir) == []
    g["spec"]["off"] = True
    assert validate_manifest(g, crds_dir=widget_dir)
    # transition rules (oldSelf) are skipped: a rendered manifest is a create
    assert not any("immutable" in e for e in validate_manifest(widget(), crds_dir=widget_dir))


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
        imagePullPolicy="Sometimes"), "imagePullPolicy"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
        protocol="HTTP"), "protocol"),
    (lambda d: d["spec"]["selector"].update(
        matchExpressions=[{"key": "a", "operator": "Equals", "values": ["b"]}]), "operator"),
    (lambda d: d["spec"].update(strategy={"type": "BlueGreen"}), "strategy.type"),
])
def test_builtin_enum_values_are_checked(mutate, needle):
    d = deployment()
    mutate(d)
    _assert_error(d, needle, "is not one of")


def test_builtin_enum_on_network_policy():
    np = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
          "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                   "ingress": [{"ports": [{"protocol": "TCP", "port": 8000}]}]}}
    assert _errs(np) == []
    np["spec"]["policyTypes"] = ["ingress"]
    np["spec"]["ingress"][0]["ports"][0]["protocol"] = "tcp"
    _assert_error(np, "policyTypes[0]: 'ingress' is not one of", "protocol: 'tcp' is not one of")
