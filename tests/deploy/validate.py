#!/usr/bin/env python3
"""Validates everything under helm/, k8s/ and the Dockerfiles, offline. Run through run.sh,
which prepares the venv and kubectl. Exit status 0 only if every check passed.

  1. Dockerfiles: hadolint, and the rules the project relies on (multi-stage, pinned bases,
     --locked, non-root numeric USER, no HEALTHCHECK, ports, defaults), and that the build
     context left by .dockerignore is a complete Cargo workspace.
  2. The chart: helm lint (strict), values.schema.json rejecting bad values, and for the default
     values plus each combination in values/: render (Helm's engine via helm-python-sdk),
     yamllint, kubernetes-validate --strict, and assertions on the objects.
  3. k8s/: k8s/base equals the chart's rendering; `kubectl kustomize` of the base and the
     example overlay, each through yamllint, kubernetes-validate --strict and the assertions.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploylib as dl  # noqa: E402

ROOT = dl.ROOT
HERE = dl.HERE
OUT = HERE / "out"
BIN = Path(sys.executable).parent
K8S_VERSIONS = ["1.25.0", "1.37.0"]  # the chart's kubeVersion floor, and the newest schemas
# Kinds kubernetes-validate has no schema for (CRDs). Only these may be skipped by it; each gets
# a structural check below instead.
CRD_KINDS = {"ServiceMonitor"}

AUTH_PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
              "/jwks.json", "/register", "/authorize", "/consent", "/callback", "/token", "/revoke",
              "/connections", "/connections/revoke", "/connections/sign-out"]
MCP_PATHS = ["/mcp", "/.well-known/oauth-protected-resource"]
SECRET_VARS = {  # variables that must only ever arrive as *_FILE
    "AUTH_PROXY_UPSTREAM_CLIENT_SECRET", "AUTH_PROXY_SIGNING_KEYS", "AUTH_PROXY_ENCRYPTION_KEYS",
    "AUTH_PROXY_EXCHANGE_CLIENT_SECRET", "AUTH_PROXY_REDIS_URL", "MCP_SERVER_CLIENT_SECRET",
    "MCP_SERVER_NEXTCLOUD_APP_PASSWORD",
}
MARKER = "MARKER-"  # secret values in tests/deploy/values contain this


# ---------------------------------------------------------------------------------------------
# Bookkeeping


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []
        self.section = ""

    def start(self, section: str) -> None:
        self.section = section
        print(f"\n== {section}", flush=True)

    def ok(self, cond: bool, what: str, detail: str = "") -> bool:
        if cond:
            self.passed += 1
        else:
            msg = f"[{self.section}] {what}" + (f": {detail}" if detail else "")
            self.failed.append(msg)
            print(f"  FAIL {what}" + (f"\n       {detail}" if detail else ""), flush=True)
        return cond

    def run(self, what: str, fn: Callable[[], None]) -> None:
        """Run a block of assertions; an exception inside is one failure."""
        try:
            fn()
            self.passed += 1
        except AssertionError as e:
            self.ok(False, what, str(e))
        except Exception as e:  # noqa: BLE001 - report and go on
            self.ok(False, what, f"{type(e).__name__}: {e}")


C = Checks()


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------------------------------------
# Generic checks on a stream of manifests


def yamllint(path: Path) -> None:
    r = sh([str(BIN / "yamllint"), "-f", "parsable", "-c", str(HERE / "yamllint.yaml"), str(path)])
    C.ok(r.returncode == 0, f"yamllint {path.relative_to(ROOT)}", (r.stdout + r.stderr).strip())


def kubernetes_validate(path: Path, kinds: set[str]) -> None:
    args = [str(BIN / "kubernetes-validate"), "--strict", "--quiet"]
    for v in K8S_VERSIONS:
        args += ["-k", v]
    r = sh(args + [str(path)])
    out = (r.stdout + r.stderr).strip()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("WARN ")]
    warns = [ln for ln in lines if ln.startswith("WARN ")]
    unknown = {m.group(1) for ln in warns if (m := re.search(r"schema for kind (\S+)", ln))}
    C.ok(r.returncode == 0 and not errors,
         f"kubernetes-validate --strict {path.relative_to(ROOT)} ({', '.join(K8S_VERSIONS)})",
         "\n       ".join(errors))
    other_warns = [ln for ln in warns if "Couldn't find schema for kind" not in ln]
    C.ok(not other_warns, "kubernetes-validate: no warnings but missing CRD schemas", "\n       ".join(other_warns))
    C.ok(unknown <= CRD_KINDS, "kubernetes-validate knows every kind but the CRDs", ", ".join(sorted(unknown - CRD_KINDS)))
    C.ok(unknown == (kinds & CRD_KINDS), "CRD kinds skipped by kubernetes-validate are exactly those rendered",
         f"skipped {sorted(unknown)}, rendered {sorted(kinds & CRD_KINDS)}")


def documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    names = set(re.findall(r"`((?:AUTH_PROXY|MCP_SERVER)_[A-Z0-9_]+)`", text))
    names |= {n + "_FILE" for n in names}  # checked separately: only documented _FILE forms used
    names.add("RUST_LOG")
    return names


FILE_FORMS = {  # the _FILE forms docs/configuration.md names
    "AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE", "AUTH_PROXY_SIGNING_KEYS_FILE",
    "AUTH_PROXY_ENCRYPTION_KEYS_FILE", "AUTH_PROXY_REDIS_URL_FILE",
    "AUTH_PROXY_EXCHANGE_CLIENT_SECRET_FILE", "MCP_SERVER_CLIENT_SECRET_FILE",
    "MCP_SERVER_NEXTCLOUD_APP_PASSWORD_FILE",
    "AUTH_PROXY_CLIENTS_FILE",  # not a secret's _FILE form, but a mounted file all the same
}


def selects(selector: dict, labels: dict) -> bool:
    ml = (selector or {}).get("matchLabels", {}) or {}
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def component(d: dict) -> str:
    return d["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")


def one(docs: list[dict], kind: str, comp: str) -> dict:
    found = [d for d in by_kind(docs, kind) if component(d) == comp]
    assert len(found) == 1, f"expected one {kind} for {comp}, found {len(found)}"
    return found[0]


class Expect:
    """What a rendering should contain."""

    def __init__(self, host: str, *, hpa: bool = True, auth_replicas: int | None = 2,
                 mcp_replicas: int | None = None, redis_bundled: bool = False,
                 service_monitor: bool = False, tls_secret: str | None = None,
                 ingress_class: str | None = None, chart_secret: bool = True,
                 secret_refs: dict[str, tuple[str, str]] | None = None,
                 trusted_proxies: str | None = None, notes: str | None = None,
                 secret_marker: str | None = MARKER, pdb_mcp: dict | None = None,
                 cimd: dict | None = None, redis_password_ref: tuple[str, str] | None = None,
                 connect_page: bool = True, nextcloud: dict | None = None) -> None:
        self.host = host
        # AUTH_PROXY_NEXTCLOUD_* other than the strategy, when a case names them exactly.
        self.nextcloud = nextcloud
        # The app-password strategy (the default) adds the Nextcloud connect page to the routes.
        self.connect_page = connect_page
        self.hpa = hpa
        self.auth_replicas = auth_replicas
        self.mcp_replicas = mcp_replicas
        self.redis_bundled = redis_bundled
        self.service_monitor = service_monitor
        self.tls_secret = tls_secret
        self.ingress_class = ingress_class
        self.chart_secret = chart_secret
        self.secret_refs = secret_refs  # file name -> (secret name prefix, key)
        self.trusted_proxies = trusted_proxies
        self.notes = notes
        self.secret_marker = secret_marker
        self.pdb_mcp = pdb_mcp or {"maxUnavailable": 1}
        self.redis_password_ref = redis_password_ref
        self.cimd = cimd or {}  # AUTH_PROXY_*CIMD* variables: none unless set


def assert_manifests(name: str, docs: list[dict], exp: Expect) -> None:
    """Assertions shared by chart renderings and kustomize builds."""
    documented = documented_variables()
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
    configmaps = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    services = by_kind(docs, "Service")
    secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}

    def t_labels() -> None:
        for d in docs:
            if d["kind"] == "Namespace":
                continue
            labels = d["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/name") == "nextcloud-mcp", f"{d['kind']}/{d['metadata']['name']} lacks app.kubernetes.io/name"
            assert labels.get("app.kubernetes.io/instance"), f"{d['kind']}/{d['metadata']['name']} lacks app.kubernetes.io/instance"
    C.run(f"{name}: every object carries the app.kubernetes.io labels", t_labels)

    def t_security() -> None:
        assert workloads, "no workloads"
        for w in workloads:
            pod = w["spec"]["template"]["spec"]
            psc = pod.get("securityContext", {})
            assert pod.get("automountServiceAccountToken") is False, f"{w['metadata']['name']}: service account token mounted"
            assert pod.get("enableServiceLinks") is False, f"{w['metadata']['name']}: service links would inject *_PORT variables the services refuse"
            assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
            for c in pod.get("initContainers", []) + pod["containers"]:
                sc = c.get("securityContext", {})
                where = f"{w['metadata']['name']}/{c['name']}"
                assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot"
                uid = sc.get("runAsUser", psc.get("runAsUser"))
                assert isinstance(uid, int) and uid > 0, f"{where}: numeric non-root runAsUser"
                assert sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
                assert sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
                assert sc.get("privileged", False) is False, f"{where}: privileged"
                assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}: capabilities drop ALL"
                assert not sc.get("capabilities", {}).get("add"), f"{where}: capabilities added"
                seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {}))
                assert seccomp.get("type") == "RuntimeDefault", f"{where}: seccompProfile RuntimeDefault"
                res = c.get("resources", {})
                assert res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory"), f"{where}: resource requests"
                assert res.get("limits", {}).get("memory"), f"{where}: memory limit"
                assert c.get("livenessProbe") and c.get("readinessProbe"), f"{where}: probes"
    C.run(f"{name}: every container non-root, read-only root, no privilege escalation, caps dropped, seccomp, resources, probes", t_security)

    def t_probes_ports() -> None:
        for comp, main, metrics in (("auth-proxy", 8080, 9464), ("mcp-server", 8000, 9001)):
            w = one(docs, "Deployment", comp)
            c = w["spec"]["template"]["spec"]["containers"][0]
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert ports == {"http": main, "metrics": metrics}, f"{comp}: ports {ports}"
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                g = c[probe].get("httpGet", {})
                assert g.get("path") == path and g.get("port") in ("http", main), f"{comp}: {probe} {g}"
            env = configmaps[c["envFrom"][0]["configMapRef"]["name"]]["data"]
            prefix = "AUTH_PROXY" if comp == "auth-proxy" else "MCP_SERVER"
            assert env[f"{prefix}_BIND"] == f"0.0.0.0:{main}", f"{comp}: bind"
            assert env[f"{prefix}_METRICS_BIND"] == f"0.0.0.0:{metrics}", f"{comp}: metrics bind"
            assert env[f"{prefix}_LOG_FORMAT"] == "json"
            grace = w["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            assert grace > int(env[f"{prefix}_SHUTDOWN_TIMEOUT_SECS"]), f"{comp}: grace period shorter than the drain"
            assert w["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    C.run(f"{name}: probes /healthz and /readyz on the main ports; binds match container ports", t_probes_ports)

    def t_env() -> None:
        for w in workloads:
            for c in w["spec"]["template"]["spec"]["containers"]:
                names = [e["name"] for e in c.get("env", [])]
                for ef in c.get("envFrom", []):
                    assert "configMapRef" in ef, f"{c['name']}: envFrom other than a ConfigMap"
                    names += list(configmaps[ef["configMapRef"]["name"]]["data"])
                ours = [n for n in names if n.startswith(("AUTH_PROXY_", "MCP_SERVER_")) or n == "RUST_LOG"]
                undocumented = sorted(n for n in ours if n not in documented or (n.endswith("_FILE") and n not in FILE_FORMS))
                assert not undocumented, f"{c['name']}: variables not in docs/configuration.md: {undocumented}"
                plain = sorted(n for n in ours if n in SECRET_VARS)
                assert not plain, f"{c['name']}: secrets passed as plain variables: {plain}"
                wrong = [n for n in ours if not n.startswith("RUST_LOG") and not n.startswith(
                    "AUTH_PROXY_" if c["name"] == "auth-proxy" else "MCP_SERVER_")]
                assert not wrong, f"{c['name']}: variables of the other service: {wrong}"
    C.run(f"{name}: only variables from docs/configuration.md; secrets never as plain variables", t_env)

    def t_config_secrets() -> None:
        for cm in configmaps.values():
            text = json.dumps(cm.get("data", {}))
            if exp.secret_marker:
                assert exp.secret_marker not in text, f"ConfigMap {cm['metadata']['name']} holds a secret value"
            assert not re.search(r"-----BEGIN|redis(s)?://[^\"]*:[^\"@]*@", text), f"ConfigMap {cm['metadata']['name']} holds key material or a Redis password"
            for k in cm.get("data", {}):
                assert k not in SECRET_VARS, f"ConfigMap {cm['metadata']['name']}: {k}"
        for d in docs:
            if d["kind"] != "Secret" and exp.secret_marker:
                assert exp.secret_marker not in json.dumps(d), f"{d['kind']}/{d['metadata']['name']} holds a secret value in clear"
        for s in secrets.values():
            assert "stringData" not in s, f"Secret {s['metadata']['name']} uses stringData"
            for k, v in s.get("data", {}).items():
                base64.b64decode(re.sub(r"\s", "", v), validate=True)  # raises on clear text (Go ignores newlines)
    C.run(f"{name}: no secret value in ConfigMaps or any other non-Secret object", t_config_secrets)

    def t_secret_files() -> None:
        # Every *_FILE variable names a file that a projected Secret source puts there.
        for w in workloads:
            pod = w["spec"]["template"]["spec"]
            for c in pod["containers"]:
                env = {}
                for ef in c.get("envFrom", []):
                    env.update(configmaps[ef["configMapRef"]["name"]]["data"])
                files = {k: v for k, v in env.items() if k.endswith("_FILE")}
                if not files:
                    continue
                mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
                volumes = {v["name"]: v for v in pod.get("volumes", [])}
                for var, path in files.items():
                    d, f = os.path.split(path)
                    assert d in mounts, f"{c['name']}: {var}={path}: nothing mounted at {d}"
                    assert mounts[d].get("readOnly") is True
                    vol = volumes[mounts[d]["name"]]
                    items = {}
                    for src in vol["projected"]["sources"]:
                        for it in src["secret"]["items"]:
                            items[it["path"]] = (src["secret"]["name"], it["key"])
                    assert f in items, f"{c['name']}: {var}: no secret item at {f}"
                    sname, key = items[f]
                    if sname in secrets:
                        assert key in secrets[sname]["data"], f"{var}: key {key} missing in Secret {sname}"
                        if exp.secret_refs is not None and f in exp.secret_refs:
                            want_name, want_key = exp.secret_refs[f]
                            assert sname.startswith(want_name) and key == want_key, f"{var}: from {sname}/{key}, want {want_name}/{want_key}"
                    else:
                        assert exp.secret_refs is not None and f in exp.secret_refs, f"{var}: Secret {sname} neither rendered nor expected to exist"
                        want_name, want_key = exp.secret_refs[f]
                        assert (sname, key) == (want_name, want_key), f"{var}: from {sname}/{key}, want {want_name}/{want_key}"
        ap = configmaps[one(docs, "Deployment", "auth-proxy")["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]]["data"]
        ms = configmaps[one(docs, "Deployment", "mcp-server")["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]]["data"]
        for var in ("AUTH_PROXY_SIGNING_KEYS_FILE", "AUTH_PROXY_ENCRYPTION_KEYS_FILE",
                    "AUTH_PROXY_EXCHANGE_CLIENT_SECRET_FILE", "AUTH_PROXY_REDIS_URL_FILE",
                    "AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE"):
            assert var in ap, f"auth-proxy: {var} missing"
        assert "MCP_SERVER_CLIENT_SECRET_FILE" in ms
        assert os.path.basename(ap["AUTH_PROXY_EXCHANGE_CLIENT_SECRET_FILE"]) == os.path.basename(ms["MCP_SERVER_CLIENT_SECRET_FILE"])
        assert (len(secrets) > 0) == exp.chart_secret, f"Secrets rendered: {sorted(secrets)}"
    C.run(f"{name}: every *_FILE variable points at a mounted Secret item (shared exchange secret in both)", t_secret_files)

    def t_coherence() -> None:
        ap = configmaps[[n for n in configmaps if n.endswith("auth-proxy")][0]]["data"]
        ms = configmaps[[n for n in configmaps if n.endswith("mcp-server")][0]]["data"]
        issuer = f"https://{exp.host}"
        resource = f"https://{exp.host}/mcp"
        assert ap["AUTH_PROXY_ISSUER"] == issuer, ap["AUTH_PROXY_ISSUER"]
        assert ms["MCP_SERVER_AUTHORIZATION_SERVER"] == issuer
        assert ms["MCP_SERVER_RESOURCE"] == resource
        assert ap["AUTH_PROXY_RESOURCES"].split(",")[0] == resource
        assert ap["AUTH_PROXY_EXCHANGE_CLIENT_ID"] == ms["MCP_SERVER_CLIENT_ID"]
        assert ms["MCP_SERVER_MODE"] == "oauth"
        assert ms["MCP_SERVER_NEXTCLOUD_URL"].startswith("https://")
        assert ap["AUTH_PROXY_UPSTREAM_ISSUER"].startswith("https://")
        cimd = {k: v for k, v in ap.items() if "CIMD" in k}
        assert cimd == exp.cimd, f"CIMD settings {cimd}, want {exp.cimd}"
        if exp.nextcloud is not None:
            nc = {k: v for k, v in ap.items() if k.startswith("AUTH_PROXY_NEXTCLOUD_") and k != "AUTH_PROXY_NEXTCLOUD_CREDENTIALS"}
            assert nc == exp.nextcloud, f"Nextcloud settings {nc}, want {exp.nextcloud}"
        if exp.trusted_proxies is None:
            assert "AUTH_PROXY_TRUSTED_PROXIES" not in ap
        else:
            assert ap.get("AUTH_PROXY_TRUSTED_PROXIES") == exp.trusted_proxies
    C.run(f"{name}: issuer https://<host>, resource https://<host>/mcp, matching exchange client", t_coherence)

    def t_services() -> None:
        for s in services:
            matched = [w for w in workloads if selects({"matchLabels": s["spec"]["selector"]}, w["spec"]["template"]["metadata"]["labels"])]
            assert len(matched) == 1, f"Service {s['metadata']['name']} selects {len(matched)} workloads"
            cports = {p["name"] for c in matched[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
            for p in s["spec"]["ports"]:
                assert p["targetPort"] in cports, f"Service {s['metadata']['name']}: targetPort {p['targetPort']}"
        for w in workloads:
            assert selects(w["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"]), f"{w['metadata']['name']}: selector does not match its pods"
    C.run(f"{name}: Services select exactly one workload and name existing ports", t_services)

    def t_ingress() -> None:
        ings = by_kind(docs, "Ingress")
        assert len(ings) == 1, f"{len(ings)} Ingresses"
        ing = ings[0]["spec"]
        assert len(ing["rules"]) == 1 and ing["rules"][0]["host"] == exp.host, ing["rules"]
        svc = {s["metadata"]["name"]: s for s in services}
        routes = {}
        for p in ing["rules"][0]["http"]["paths"]:
            b = p["backend"]["service"]
            assert b["name"] in svc, f"backend {b['name']} is no Service"
            assert b["port"].get("name") in {sp["name"] for sp in svc[b["name"]]["spec"]["ports"]}
            assert p["path"] not in routes, f"{p['path']} routed twice"
            routes[p["path"]] = (p["pathType"], component(svc[b["name"]]))
        want = {p: ("Exact", "auth-proxy") for p in AUTH_PATHS + (["/nextcloud/connect"] if exp.connect_page else [])}
        want.update({p: ("Prefix", "mcp-server") for p in MCP_PATHS})
        assert routes == want, f"routes differ:\n got  {routes}\n want {want}"
        if exp.tls_secret:
            assert ing.get("tls") == [{"hosts": [exp.host], "secretName": exp.tls_secret}], ing.get("tls")
        else:
            assert not ing.get("tls"), "unexpected tls"
        assert ing.get("ingressClassName") == exp.ingress_class, ing.get("ingressClassName")
        assert "defaultBackend" not in ing
    C.run(f"{name}: Ingress routes exactly the OAuth paths (Exact) to auth-proxy and /mcp + PRM (Prefix) to mcp-server", t_ingress)

    def t_scaling() -> None:
        ap = one(docs, "Deployment", "auth-proxy")
        assert ap["spec"].get("replicas") == exp.auth_replicas, f"auth-proxy replicas {ap['spec'].get('replicas')}"
        ms = one(docs, "Deployment", "mcp-server")
        hpas = by_kind(docs, "HorizontalPodAutoscaler")
        if exp.hpa:
            assert len(hpas) == 1 and hpas[0]["apiVersion"] == "autoscaling/v2"
            ref = hpas[0]["spec"]["scaleTargetRef"]
            assert ref == {"apiVersion": "apps/v1", "kind": "Deployment", "name": ms["metadata"]["name"]}, ref
            assert "replicas" not in ms["spec"], "replicas set on an autoscaled Deployment"
            assert hpas[0]["spec"]["minReplicas"] >= 2
        else:
            assert not hpas
            assert ms["spec"].get("replicas") == exp.mcp_replicas
        pdbs = by_kind(docs, "PodDisruptionBudget")
        assert {component(p) for p in pdbs} == {"auth-proxy", "mcp-server"}, [component(p) for p in pdbs]
        for p in pdbs:
            assert p["apiVersion"] == "policy/v1"
            w = one(docs, "Deployment", component(p))
            assert selects(p["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        pm = one(docs, "PodDisruptionBudget", "mcp-server")["spec"]
        assert {k: v for k, v in pm.items() if k != "selector"} == exp.pdb_mcp, pm
    C.run(f"{name}: replicas, HPA (autoscaling/v2) on the mcp-server, PodDisruptionBudgets", t_scaling)

    def t_netpol() -> None:
        nps = by_kind(docs, "NetworkPolicy")
        pods = {component(w): w["spec"]["template"]["metadata"]["labels"] for w in workloads}
        for comp, labels in pods.items():
            mine = [n for n in nps if selects(n["spec"]["podSelector"], labels)]
            assert len(mine) == 1, f"{comp}: {len(mine)} NetworkPolicies"
            assert set(mine[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, f"{comp}: policyTypes"
        ic = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}
        prom = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}

        def pol(comp: str) -> dict:
            return [n for n in nps if selects(n["spec"]["podSelector"], pods[comp])][0]["spec"]

        def peers_of(rules: list[dict], port: Any, key: str) -> list[dict]:
            return [p for r in rules if any(pp.get("port") == port for pp in r.get("ports", [])) for p in r.get(key, [])]

        for comp in ("auth-proxy", "mcp-server"):
            spec = pol(comp)
            # Every ingress rule names its peers and ports: nothing open to all.
            for r in spec["ingress"]:
                assert r.get("from") and r.get("ports"), f"{comp}: ingress rule open to everyone: {r}"
            http_from = peers_of(spec["ingress"], "http", "from")
            assert ic in http_from, f"{comp}: the ingress controller cannot reach http"
            others = [p for p in http_from if p != ic]
            if comp == "auth-proxy":
                assert len(others) == 1 and selects(others[0]["podSelector"], pods["mcp-server"]) and "namespaceSelector" not in others[0], f"auth-proxy http reachable from {others}"
            else:
                assert not others, f"mcp-server http reachable from {others}"
            assert peers_of(spec["ingress"], "metrics", "from") == [prom], f"{comp}: metrics peers"
            dns = [r for r in spec["egress"] if {(p.get("port"), p.get("protocol")) for p in r.get("ports", [])} == {(53, "UDP"), (53, "TCP")}]
            assert dns and dns[0]["to"], f"{comp}: no DNS egress"
        # auth-proxy egress: DNS, IdP (443), Redis.
        ap = pol("auth-proxy")
        egress_ports = {p.get("port") for r in ap["egress"] for p in r.get("ports", [])}
        assert 443 in egress_ports, "auth-proxy cannot reach the IdP"
        assert 6379 in egress_ports, "auth-proxy cannot reach Redis"
        # mcp-server egress: the auth-proxy pods, Nextcloud (443).
        ms = pol("mcp-server")
        assert any(selects(p.get("podSelector"), pods["auth-proxy"]) for r in ms["egress"] for p in r.get("to", [])), "mcp-server cannot reach the auth-proxy"
        assert 443 in {p.get("port") for r in ms["egress"] for p in r.get("ports", [])}, "mcp-server cannot reach Nextcloud"
        assert 6379 not in {p.get("port") for r in ms["egress"] for p in r.get("ports", [])}, "mcp-server may reach Redis"
        if exp.redis_bundled:
            rs = pol("redis")
            assert rs.get("egress") == [], "redis egress not closed"
            assert len(rs["ingress"]) == 1
            peers = rs["ingress"][0]["from"]
            assert len(peers) == 1 and selects(peers[0]["podSelector"], pods["auth-proxy"]) and "namespaceSelector" not in peers[0], f"redis reachable from {peers}"
            redis_rule = [r for r in ap["egress"] if any(p.get("port") == 6379 for p in r.get("ports", []))][0]
            assert all(selects(p.get("podSelector"), pods["redis"]) for p in redis_rule["to"]), "auth-proxy Redis egress not limited to the bundled Redis"
    C.run(f"{name}: NetworkPolicies: ingress controller -> services, mcp-server -> auth-proxy, only auth-proxy -> Redis, Prometheus -> metrics, DNS", t_netpol)

    def t_redis() -> None:
        sts = by_kind(docs, "StatefulSet")
        if not exp.redis_bundled:
            assert not sts, "a StatefulSet without redis.enabled"
            return
        assert len(sts) == 1
        s = sts[0]
        c = s["spec"]["template"]["spec"]["containers"][0]
        assert c["image"].startswith("redis:7-alpine")
        assert s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
        assert any(m["mountPath"] == "/data" for m in c["volumeMounts"])
        assert "--requirepass" in c["args"]
        ref = [e for e in c["env"] if e["name"] == "REDIS_PASSWORD"][0]["valueFrom"]["secretKeyRef"]
        if exp.redis_password_ref:
            assert (ref["name"], ref["key"]) == exp.redis_password_ref, ref
            return
        sec = secrets[ref["name"]]
        pw = base64.b64decode(sec["data"][ref["key"]]).decode()
        url = base64.b64decode(sec["data"]["redis-url"]).decode()
        svc = [x for x in services if component(x) == "redis"][0]["metadata"]["name"]
        assert url == f"redis://:{pw}@{svc}:6379/0", url
    C.run(f"{name}: bundled Redis StatefulSet with a PVC, password and URL consistent", t_redis)

    def t_servicemonitor() -> None:
        sms = by_kind(docs, "ServiceMonitor")
        if not exp.service_monitor:
            assert not sms
            return
        assert {component(s) for s in sms} == {"auth-proxy", "mcp-server"}
        import jsonschema
        jsonschema.validate({"sm": sms}, {"type": "object", "properties": {"sm": {"type": "array", "items": SERVICEMONITOR_SCHEMA}}})
        for sm in sms:
            matched = [s for s in services if selects(sm["spec"]["selector"], s["metadata"]["labels"])]
            assert len(matched) == 1, f"{sm['metadata']['name']} selects {len(matched)} Services"
            assert any(p["name"] == "metrics" for p in matched[0]["spec"]["ports"])
    C.run(f"{name}: ServiceMonitors (structure per the Prometheus Operator CRD) select the metrics ports", t_servicemonitor)

    if exp.notes is not None:
        def t_notes() -> None:
            assert f"https://{exp.host}/mcp" in exp.notes, "NOTES lack the MCP URL"
            assert f"https://{exp.host}/callback" in exp.notes, "NOTES lack the redirect URI"
        C.run(f"{name}: NOTES.txt names the MCP URL and the IdP redirect URI", t_notes)


# The part of monitoring.coreos.com/v1 ServiceMonitor the chart uses, written after the
# Prometheus Operator's CRD (kubernetes-validate has no CRD schemas).
_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SERVICEMONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {"type": "object", "additionalProperties": False,
                             "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                                            "matchExpressions": {"type": "array"}}},
                "namespaceSelector": {"type": "object", "additionalProperties": False,
                                      "properties": {"any": {"type": "boolean"},
                                                     "matchNames": {"type": "array", "items": {"type": "string"}}}},
                "jobLabel": {"type": "string"},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string"},
                        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                        "interval": {"type": "string", "pattern": _DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                    }}},
            },
        },
    },
}


def binaries() -> dict[str, Path] | None:
    """The service binaries, when built (make test builds them before this runs)."""
    d = Path(os.environ.get("DEPLOY_BIN_DIR", ROOT / "target" / "debug"))
    found = {c: d / c for c in ("auth-proxy", "mcp-server")}
    return found if all(p.is_file() and os.access(p, os.X_OK) for p in found.values()) else None


_TEST_SECRETS: dict[str, str] = {}


def test_secrets() -> dict[str, str]:
    """Real-looking secret files for --check-config: a fresh ES256 key, a 32-byte key, …"""
    if not _TEST_SECRETS:
        tmp = Path(tempfile.mkdtemp(prefix="deploy-secrets-"))
        pem = tmp / "key.pem"
        r = sh(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pem)])
        if r.returncode != 0:
            raise RuntimeError(f"openssl: {r.stderr}")
        _TEST_SECRETS.update({
            "signing-keys.pem": pem.read_text(),
            "encryption-keys": base64.b64encode(os.urandom(32)).decode(),
            "exchange-client-secret": base64.urlsafe_b64encode(os.urandom(24)).decode(),
            "upstream-client-secret": "upstream-secret",
            "redis-url": "redis://:pw@redis.example.internal:6379/0",
            "clients.json": json.dumps([{
                "client_id": "chatgpt", "client_name": "ChatGPT",
                "redirect_uris": ["https://chatgpt.com/connector/oauth/*"],
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            }]),
        })
        shutil.rmtree(tmp)
    return _TEST_SECRETS


def check_config_with_binaries(name: str, docs: list[dict]) -> None:
    """Run each service's --check-config with exactly the environment the manifests give its
    container (ConfigMap + env), secret files written where the manifests mount them (under a
    temporary directory). Proves the binaries accept every variable and value."""
    bins = binaries()
    if bins is None:
        print("  (service binaries not built: --check-config skipped; `make build` first)")
        return
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    for comp in ("auth-proxy", "mcp-server"):
        def t(comp: str = comp) -> None:
            c = one(docs, "Deployment", comp)["spec"]["template"]["spec"]["containers"][0]
            env = {}
            for ef in c.get("envFrom", []):
                env.update(configmaps[ef["configMapRef"]["name"]])
            for e in c.get("env", []):
                assert "value" in e, f"{e['name']}: only literal values can be checked"
                env[e["name"]] = e["value"]
            with tempfile.TemporaryDirectory() as tmp:
                for k, v in list(env.items()):
                    if k.endswith("_FILE"):
                        f = Path(tmp + v)
                        f.parent.mkdir(parents=True, exist_ok=True)
                        f.write_text(test_secrets()[f.name])
                        env[k] = str(f)
                r = sh([str(bins[comp]), "--check-config"], env={"PATH": os.environ.get("PATH", "/usr/bin"), **env})
            assert r.returncode == 0, (r.stdout + r.stderr).strip()[-600:]
        C.run(f"{name}: {comp} --check-config accepts the manifests' environment", t)


def check_stream(name: str, stream: str, exp: Expect) -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.yaml"
    path.write_text(stream)
    docs = dl.docs_of(stream)
    C.ok(bool(docs), f"{name}: rendered objects", "nothing rendered")
    yamllint(path)
    kubernetes_validate(path, {d["kind"] for d in docs})
    assert_manifests(name, docs, exp)
    check_config_with_binaries(name, docs)


# ---------------------------------------------------------------------------------------------
# 1. Dockerfiles

DOCKERFILES = {"auth-proxy": (8080, 9464, "AUTH_PROXY"), "mcp-server": (8000, 9001, "MCP_SERVER")}


def check_dockerfiles() -> None:
    C.start("Dockerfiles")
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    files = [ROOT / crate / "Dockerfile" for crate in DOCKERFILES]
    if C.ok(hadolint is not None, "hadolint is installed"):
        r = sh([hadolint, "--failure-threshold", "info", *map(str, files)])
        C.ok(r.returncode == 0, "hadolint (every finding, info level and up)", (r.stdout + r.stderr).strip())
    for crate, (port, metrics, prefix) in DOCKERFILES.items():
        path = ROOT / crate / "Dockerfile"
        text = path.read_text()
        lines = [ln.strip() for ln in re.sub(r"\\\n", " ", text).splitlines() if ln.strip() and not ln.strip().startswith("#")]
        froms = [ln for ln in lines if ln.upper().startswith("FROM ")]
        n = f"{crate}/Dockerfile"
        C.ok(len(froms) >= 2, f"{n}: multi-stage", str(froms))
        C.ok(froms and froms[0].split()[1] == "rust:1.95-bookworm", f"{n}: builder rust:1.95-bookworm", froms[0] if froms else "")
        C.ok(froms and froms[-1].split()[1] == "gcr.io/distroless/cc-debian12:nonroot", f"{n}: runtime distroless cc nonroot", froms[-1] if froms else "")
        for f in froms:
            image = f.split()[1]
            C.ok(":" in image.split("/")[-1] or "@sha256:" in image, f"{n}: base image pinned: {image}")
            C.ok(not image.endswith(":latest"), f"{n}: no :latest: {image}")
        C.ok(f"cargo build --release --locked -p {crate}" in text.replace("\\\n", " ").replace("    ", " "), f"{n}: cargo build --release --locked -p {crate}")
        users = [ln.split()[1] for ln in lines if ln.upper().startswith("USER ")]
        C.ok(bool(users) and re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]) is not None, f"{n}: final USER numeric and non-root", str(users))
        C.ok(not any(ln.upper().startswith("HEALTHCHECK") for ln in lines), f"{n}: no HEALTHCHECK")
        expose = " ".join(ln for ln in lines if ln.upper().startswith("EXPOSE "))
        C.ok(str(port) in expose.split() and str(metrics) in expose.split(), f"{n}: EXPOSE {port} {metrics}", expose)
        env = " ".join(ln for ln in lines if ln.upper().startswith("ENV "))
        for want in (f"{prefix}_BIND=0.0.0.0:{port}", f"{prefix}_METRICS_BIND=0.0.0.0:{metrics}", f"{prefix}_LOG_FORMAT=json"):
            C.ok(want in env, f"{n}: ENV {want}")
        entry = [ln for ln in lines if ln.upper().startswith("ENTRYPOINT")]
        C.ok(entry == [f'ENTRYPOINT ["/usr/local/bin/{crate}"]'], f"{n}: exec-form ENTRYPOINT, no shell", str(entry))
        final = text[text.rfind("\nFROM "):]
        C.ok("RUN " not in final, f"{n}: nothing RUN in the distroless stage (it has no shell)")

    # .dockerignore keeps exactly what the builders COPY, and that is a complete workspace.
    ign = ROOT / ".dockerignore"
    if C.ok(ign.exists(), ".dockerignore exists"):
        import pathspec
        spec = pathspec.PathSpec.from_lines("gitwildmatch", ign.read_text().splitlines())
        def included(rel: str) -> bool:
            return not spec.match_file(rel)
        for rel in ("Cargo.toml", "Cargo.lock", "shared/Cargo.toml", "auth-proxy/Cargo.toml",
                    "mcp-server/Cargo.toml", "auth-proxy/src/main.rs", "mcp-server/src/main.rs",
                    "shared/src/lib.rs"):
            C.ok(included(rel), f".dockerignore keeps {rel}")
        for rel in ("target/release/auth-proxy", "tests/node_modules/x", "docs/tools.md", ".git/HEAD", ".dev/key.pem"):
            C.ok(not included(rel), f".dockerignore drops {rel}")
    cargo = shutil.which("cargo")
    if cargo:
        with tempfile.TemporaryDirectory() as tmp:
            for rel in ("Cargo.toml", "Cargo.lock"):
                shutil.copy2(ROOT / rel, tmp)
            for d in ("shared", "auth-proxy", "mcp-server"):
                shutil.copytree(ROOT / d, Path(tmp) / d, ignore=shutil.ignore_patterns("target"))
            r = sh([cargo, "metadata", "--locked", "--offline", "--format-version", "1", "--no-deps"], cwd=tmp)
            C.ok(r.returncode == 0, "the Dockerfiles' COPY set is a complete Cargo workspace (cargo metadata --locked)", r.stderr.strip()[-800:])
    else:
        print("  (cargo not found: the build-context check is skipped)")


# ---------------------------------------------------------------------------------------------
# 2. The Helm chart

REQUIRED = dl.VALUES / "required.yaml"
COMBINATIONS = {
    # name: (values file or None for the defaults, expectations)
    "chart-defaults": (None, dict(nextcloud={"AUTH_PROXY_NEXTCLOUD_URL": "https://cloud.example.com"})),
    "chart-redis-bundled": ("redis-bundled.yaml", dict(redis_bundled=True)),
    "chart-servicemonitor": ("servicemonitor.yaml", dict(service_monitor=True)),
    "chart-existing-secrets": ("existing-secrets.yaml", dict(chart_secret=False, secret_refs={
        "upstream-client-secret": ("idp-client", "client-secret"),
        "signing-keys.pem": ("nextcloud-mcp-keys", "signing-keys.pem"),
        "encryption-keys": ("nextcloud-mcp-keys", "encryption-keys"),
        "exchange-client-secret": ("nextcloud-mcp-exchange", "secret"),
        "redis-url": ("redis-connection", "url")})),
    "chart-options": ("options.yaml", dict(redis_bundled=True, redis_password_ref=("redis-auth", "password"),
                                           secret_refs={"redis-url": ("redis-connection", "url")})),
    "chart-ingress-tls": ("ingress-tls.yaml", dict(tls_secret="mcp-example-com-tls", ingress_class="nginx",
                                                   trusted_proxies="10.244.0.0/16", hpa=False, mcp_replicas=3,
                                                   pdb_mcp={"minAvailable": 2}, cimd={
                                                       "AUTH_PROXY_CIMD_ENABLED": "true",
                                                       "AUTH_PROXY_CIMD_ALLOWED_HOSTS": "claude.ai,*.example.org",
                                                       "AUTH_PROXY_CIMD_FETCH_TIMEOUT_SECS": "3",
                                                       "AUTH_PROXY_RATE_LIMIT_CIMD_PER_HOST": "10/60"})),
    "chart-nextcloud-internal-http": ("nextcloud-internal-http.yaml", dict(nextcloud={
        "AUTH_PROXY_NEXTCLOUD_URL": "http://nextcloud.nextcloud.svc.cluster.local:8080",
        "AUTH_PROXY_NEXTCLOUD_ALLOW_INSECURE_HTTP": "true",
        "AUTH_PROXY_NEXTCLOUD_PUBLIC_URL": "https://cloud.example.com"})),
}


def check_chart() -> None:
    import helm_python as helm

    C.start("Helm chart: lint")
    for f in [dl.CHART / "Chart.yaml", dl.CHART / "values.yaml", *sorted(dl.VALUES.rglob("*.yaml"))]:
        yamllint(f)
    for name, (extra, _) in COMBINATIONS.items():
        files = [REQUIRED] + ([dl.VALUES / extra] if extra else [])
        report = helm.lint(str(dl.CHART), dl.load_values(*files), strict=True, kube_version="v1.25.0")
        msgs = [f"{m.get('path')}: {m.get('error')}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        msgs += report.get("errors", []) or []
        C.ok(not msgs, f"helm lint --strict ({name})", "\n       ".join(msgs))
    schema = json.loads((dl.CHART / "values.schema.json").read_text())
    import jsonschema
    C.run("values.schema.json is a valid draft-07 schema", lambda: jsonschema.Draft7Validator.check_schema(schema))
    chart_values = yaml.safe_load((dl.CHART / "values.yaml").read_text())
    C.run("values.yaml itself passes values.schema.json", lambda: jsonschema.validate(chart_values, schema))

    def strict_objects(node: Any, path: str = "") -> list[str]:
        bad = []
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                bad.append(path or "/")
            for k, v in node.items():
                bad += strict_objects(v, f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                bad += strict_objects(v, f"{path}/{i}")
        return bad
    loose = strict_objects(schema)
    C.ok(not loose, "every schema object with properties forbids unknown keys", ", ".join(loose))

    C.start("Helm chart: invalid values are rejected")
    required = dl.load_values(REQUIRED)
    with helm.Chart.load(str(dl.CHART)) as chart:
        for f in sorted((dl.VALUES / "invalid").glob("*.yaml")):
            text = f.read_text()
            stage = re.search(r"^# expect-stage: (\w+)", text, re.M).group(1)
            expect = re.search(r"^# expect-error: (.+)$", text, re.M).group(1).strip()
            values = dl.deep_merge(required, yaml.safe_load(text) or {})
            err = None
            got_stage = None
            try:
                chart.validate_schema(values)
                got_stage = "render"
                chart.render(values, name="demo", namespace="mcp")
                got_stage = None
            except helm.HelmError as e:
                err = str(e)
                got_stage = got_stage or "schema"
            C.ok(err is not None and got_stage == stage and expect in err,
                 f"{f.name} rejected at the {stage} stage", f"stage {got_stage}, error: {err}")
        # Nothing given at all: refused with a message naming what is missing.
        try:
            chart.render({}, name="demo", namespace="mcp")
            C.ok(False, "the chart's bare defaults are refused (host etc. required)")
        except helm.HelmError as e:
            C.ok("is required" in str(e), "the chart's bare defaults are refused (host etc. required)", str(e))

    for name, (extra, kw) in COMBINATIONS.items():
        C.start(f"Helm chart: {name}")
        files = [REQUIRED] + ([dl.VALUES / extra] if extra else [])
        try:
            stream, notes = dl.render(dl.load_values(*files))
        except helm.HelmError as e:
            C.ok(False, f"{name}: renders", str(e))
            continue
        check_stream(name, stream, Expect("mcp.example.com", notes=notes, **kw))


# ---------------------------------------------------------------------------------------------
# 3. k8s/ (kustomize)

def kubectl() -> str | None:
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


def check_k8s() -> None:
    C.start("k8s/base is the chart's rendering")
    try:
        want = dl.base_documents()
    except Exception as e:  # noqa: BLE001
        C.ok(False, "the chart renders k8s/base's values", f"{type(e).__name__}: {e}")
        return
    for fname, docs in want.items():
        path = dl.K8S_BASE / fname
        have = list(yaml.safe_load_all(path.read_text())) if path.exists() else None
        C.ok(have is not None and [d for d in have if d] == docs, f"k8s/base/{fname} matches the chart",
             "out of date: run tests/deploy/run.sh --write-k8s-base")
    kust = yaml.safe_load((dl.K8S_BASE / "kustomization.yaml").read_text())
    C.ok(sorted(kust.get("resources", [])) == sorted(want), "k8s/base/kustomization.yaml lists every file", str(kust.get("resources")))
    for f in sorted((ROOT / "k8s").rglob("*.yaml")):
        yamllint(f)

    k = kubectl()
    if not C.ok(k is not None, "kubectl is available (run.sh installs it)"):
        return
    settings = dict(ln.split("=", 1) for ln in (ROOT / "k8s/overlays/example/settings.env").read_text().splitlines()
                    if ln.strip() and not ln.startswith("#"))
    secret_refs = {f: ("nextcloud-mcp-secrets", f) for f in
                   ("upstream-client-secret", "signing-keys.pem", "encryption-keys", "exchange-client-secret", "redis-url")}
    for name, path, exp in (
        ("k8s-base", "k8s/base", Expect("mcp.example.com", chart_secret=False, secret_refs=secret_refs, secret_marker=None)),
        ("k8s-overlay-example", "k8s/overlays/example",
         Expect(settings["HOST"], auth_replicas=3, tls_secret="nextcloud-mcp-tls", ingress_class="nginx",
                trusted_proxies="10.244.0.0/16", chart_secret=True, secret_refs=secret_refs, secret_marker=None)),
    ):
        C.start(f"kubectl kustomize {path}")
        r = sh([k, "kustomize", str(ROOT / path)])
        if not C.ok(r.returncode == 0, f"kubectl kustomize {path}", r.stderr.strip()):
            continue
        check_stream(name, r.stdout, exp)
        docs = dl.docs_of(r.stdout)
        if name == "k8s-overlay-example":
            def t_overlay() -> None:
                ns = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
                assert ns == {"nextcloud-mcp"}, ns
                assert not [d for d in docs if d["metadata"]["name"] == "deployment-settings"], "local-config ConfigMap leaked"
                left = re.findall(r"(?:mcp|idp|cloud)\.example\.com", r.stdout)
                assert not left, f"a placeholder of the base survived the replacements: {left}"
                cms = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
                assert cms["nextcloud-mcp-auth-proxy"]["AUTH_PROXY_UPSTREAM_ISSUER"] == settings["UPSTREAM_ISSUER"]
                assert cms["nextcloud-mcp-auth-proxy"]["AUTH_PROXY_UPSTREAM_CLIENT_ID"] == settings["UPSTREAM_CLIENT_ID"]
                assert cms["nextcloud-mcp-mcp-server"]["MCP_SERVER_NEXTCLOUD_URL"] == settings["NEXTCLOUD_URL"]
                hpa = by_kind(docs, "HorizontalPodAutoscaler")[0]["spec"]
                assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 20)
                sec = by_kind(docs, "Secret")[0]
                assert re.fullmatch(r"nextcloud-mcp-secrets-[a-z0-9]{10}", sec["metadata"]["name"]), sec["metadata"]["name"]
                assert sorted(sec["data"]) == sorted(secret_refs)
            C.run("overlay: namespace, settings.env applied everywhere, no placeholder left, hashed Secret", t_overlay)


# ---------------------------------------------------------------------------------------------

def check_dashboard() -> None:
    C.start("docs/grafana-dashboard.json")
    path = ROOT / "docs" / "grafana-dashboard.json"
    try:
        dash = json.loads(path.read_text())
    except Exception as e:  # noqa: BLE001
        C.ok(False, "valid JSON", str(e))
        return
    C.ok(True, "valid JSON")
    arch = (ROOT / "docs" / "architecture.md").read_text()
    known = set(re.findall(r"`((?:auth_proxy|mcp_server)_[a-z_]+)`", arch))
    variables = [v["name"] for v in dash.get("templating", {}).get("list", [])]
    C.ok(any(v.get("type") == "datasource" and v.get("query") == "prometheus" for v in dash["templating"]["list"]),
         "a Prometheus datasource variable", str(variables))
    panels = []
    def walk(ps: list) -> None:
        for p in ps:
            panels.append(p)
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    used = set()
    for p in panels:
        for t in p.get("targets", []):
            names = set(re.findall(r"\b((?:auth_proxy|mcp_server)_[a-z_]+?)(?:_bucket|_sum|_count)?\b", t.get("expr", "")))
            used |= {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}
            ds = p.get("datasource", {})
            C.ok(ds.get("uid") == "${datasource}", f"panel '{p.get('title')}' uses the datasource variable", str(ds))
    unknown = sorted(n for n in used if n not in known)
    C.ok(not unknown, "every metric in the dashboard is documented in docs/architecture.md", ", ".join(unknown))
    missing = sorted(known - used)
    if missing:  # a warning, so that adding a metric in the code does not break the build
        print(f"  WARN documented metrics not on the dashboard yet: {', '.join(missing)}")
    ids = [p["id"] for p in panels]
    C.ok(len(ids) == len(set(ids)), "panel ids are unique")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-k8s-base", action="store_true", help="regenerate k8s/base from the chart, then validate")
    args = ap.parse_args()
    started = time.monotonic()
    if args.write_k8s_base:
        for p in dl.write_k8s_base():
            print(f"wrote {p.relative_to(ROOT)}")
    if OUT.exists():
        shutil.rmtree(OUT)
    check_dockerfiles()
    check_chart()
    check_k8s()
    check_dashboard()
    print(f"\nRendered manifests: {OUT.relative_to(ROOT)}/  ({time.monotonic() - started:.1f} s)")
    for f in C.failed:
        print(f"FAILED {f}")
    print(f"deploy: {C.passed} passed, {len(C.failed)} failed")
    return 1 if C.failed else 0


if __name__ == "__main__":
    sys.exit(main())
