"""The deployment files, checked offline: there is no Docker engine or cluster on the development
machines, so docker-compose.yml is validated against the Compose Specification's schema, every
Kubernetes manifest against the API schemas of the Kubernetes releases we support
(kubernetes-validate, strict: an unknown field is an error), and both against the project: the
probes call health endpoints the servers serve without credentials, every secret the servers need
is provided, and the public routes are only the ones docs/security.md allows.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "docker-compose.yml"
#: the oldest release with every API used (autoscaling/v2, policy/v1) and a recent one
KUBERNETES_VERSIONS = ["1.25.0", "1.32.0"]
#: what the processes read as secrets (generated for `make run` by common/secrets_store.py)
from common.secrets_store import GENERATED as SECRETS  # noqa: E402


def manifests() -> List[Dict[str, Any]]:
    return [doc for path in sorted(KUBERNETES.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose() -> Dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def by_kind(kind: str) -> Dict[str, Dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def test_compose_file_follows_the_compose_specification():
    schema = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft201909Validator(schema).iter_errors(compose())]
    assert errors == []


def test_the_compose_schema_check_catches_mistakes():
    """The schema really is applied: a misspelt key and a wrong type are reported."""
    schema = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())
    broken = compose()
    broken["services"]["rasa"]["replica"] = 2
    broken["services"]["rasa"]["deploy"]["replicas"] = "two"
    assert len(list(jsonschema.Draft201909Validator(schema).iter_errors(broken))) == 2


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_manifest_is_valid(version):
    failures = {}
    for doc in manifests():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as error:
            failures[f"{doc['kind']}/{doc['metadata']['name']}"] = str(error)[:300]
    assert failures == {}


def test_the_kubernetes_check_catches_mistakes():
    deployment = dict(by_kind("Deployment")["brightcart-rasa"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present


def test_two_replicas_of_rasa_and_the_action_server_everywhere():
    services = compose()["services"]
    assert services["rasa"]["deploy"]["replicas"] == 2 and services["actions"]["deploy"]["replicas"] == 2
    deployments = by_kind("Deployment")
    for name in ("brightcart-rasa", "brightcart-actions"):
        assert deployments[name]["spec"]["replicas"] >= 2
        # a rollout never takes a serving replica away before its replacement is ready
        assert deployments[name]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    autoscaled = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in by_kind("HorizontalPodAutoscaler").values()}
    assert {"brightcart-rasa", "brightcart-actions"} <= set(autoscaled)
    assert all(hpa["spec"]["minReplicas"] >= 2 for hpa in autoscaled.values())


def test_probes_call_health_endpoints_that_need_no_credentials():
    from actions.server_auth import PUBLIC_PATHS
    from demo_backend.auth import PUBLIC_EXACT

    probes = {}
    for deployment in by_kind("Deployment").values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "readinessProbe" in container and "livenessProbe" in container, deployment["metadata"]["name"]
        probes[deployment["metadata"]["name"]] = {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")}
    assert probes["brightcart-actions"] <= set(PUBLIC_PATHS)
    assert {("GET", path) for path in probes["brightcart-backend"]} <= PUBLIC_EXACT
    # Rasa's root route answers without the API token ("Hello from Rasa")
    assert probes["brightcart-rasa"] == {"/"}


def test_every_secret_is_provided_and_none_is_written_down():
    secret = by_kind("Secret")["brightcart-secrets"]
    assert set(SECRETS) <= set(secret["stringData"])
    assert all(value == "" for value in secret["stringData"].values()), "real secret values do not belong in the repo"
    for name in ("brightcart-rasa", "brightcart-actions", "brightcart-backend"):
        sources = by_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        assert {"secretRef": {"name": "brightcart-secrets"}} in sources
    # compose: each server gets the secrets it checks, from the operator's .env (never a default)
    services = compose()["services"]
    needs = {"rasa": {"RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "CHANNEL_SECRET", "IDENTITY_JWT_SECRET"},
             "actions": {"RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "CHANNEL_SECRET", "BACKEND_API_KEY", "OPS_TOKEN"},
             "backend": {"BACKEND_API_KEY", "BACKEND_ADMIN_KEY", "IDENTITY_JWT_SECRET"}}
    raw = COMPOSE.read_text()
    for service, names in needs.items():
        assert names <= set(services[service]["environment"]), service
    for name in SECRETS:
        assert re.search(r"\$\{" + name + r":\?", raw), f"{name} must be required, not defaulted"
    example = (ROOT / "deploy" / "compose.env.example").read_text()
    assert all(re.search(rf"^{name}=$", example, re.M) for name in SECRETS)


def test_only_customer_channels_and_slack_callbacks_are_public():
    """The load balancer (nginx) and the Ingress route the customer channels, Slack's callbacks
    and the store page; never Rasa's HTTP API, the action server's /webhook or /metrics, or the
    backend's /api (docs/security.md, "Never expose")."""
    ingress = by_kind("Ingress")["brightcart-support"]
    routes = {(p["path"], p["backend"]["service"]["name"]) for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert routes == {
        ("/socket.io", "brightcart-rasa"), ("/webhooks/rest", "brightcart-rasa"),
        ("/webhooks/twilio_sms", "brightcart-rasa"), ("/webhooks/twilio_voice", "brightcart-rasa"),
        ("/slack/events", "brightcart-actions"), ("/slack/interactivity", "brightcart-actions"),
        ("/", "brightcart-backend"), ("/static", "brightcart-backend"),
    }
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    proxied = re.findall(r"location ([^{]+)\{[^}]*proxy_pass http://(\w+);", nginx)
    assert {(where.strip(), upstream) for where, upstream in proxied} == {
        ("/socket.io/", "rasa"), ("~ ^/webhooks/(rest|twilio_sms|twilio_voice)/", "rasa_any"),
        ("~ ^/slack/(events|interactivity)$", "actions"), ("/", "backend"),
    }
    assert "location /api/ { return 404; }" in nginx


def test_one_place_for_the_model():
    """Every Rasa replica reads the model from the one volume the training job writes."""
    rasa = by_kind("Deployment")["brightcart-rasa"]["spec"]["template"]["spec"]
    train = by_kind("Job")["brightcart-train"]["spec"]["template"]["spec"]
    assert rasa["volumes"][0]["persistentVolumeClaim"]["claimName"] == train["volumes"][0]["persistentVolumeClaim"]["claimName"]
    services = compose()["services"]
    assert "models:/app/models:ro" in services["rasa"]["volumes"] and "models:/app/models" in services["train"]["volumes"]
