"""Shared helpers of the deployment validator: render the Helm chart offline (helm-python-sdk,
Helm's own engine), split manifests, and generate k8s/base from the chart."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "nextcloud-mcp"
HERE = Path(__file__).resolve().parent
VALUES = HERE / "values"
K8S_BASE = ROOT / "k8s" / "base"


def deep_merge(base: dict, override: dict) -> dict:
    """Helm's coalescing of values files: maps merge, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(*files: Path) -> dict:
    merged: dict = {}
    for f in files:
        merged = deep_merge(merged, yaml.safe_load(Path(f).read_text()) or {})
    return merged


def render(values: dict, *, release: str = "demo", namespace: str = "mcp") -> tuple[str, str]:
    """Validate values against values.schema.json and render the chart like `helm template`.

    Returns (manifests as one multi-document YAML stream with `# Source:` comments, NOTES.txt).
    Raises helm_python.HelmError (HelmValuesError, HelmRenderError) on bad values.
    """
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    notes = ""
    out = []
    for name in sorted(rendered):
        if name.endswith("NOTES.txt"):
            notes = rendered[name]
            continue
        for doc in re.split(r"^---[ \t]*$", rendered[name], flags=re.M):
            # Drop documents that hold nothing but comments and blank lines.
            if not [ln for ln in doc.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]:
                continue
            out.append("---\n# Source: %s\n%s\n" % (name, doc.strip("\n")))
    return "".join(out), notes


def docs_of(stream: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(stream) if d]


# ---------------------------------------------------------------------------------------------
# k8s/base: the chart's defaults as plain manifests.

BASE_VALUES = VALUES / "k8s-base.yaml"
BASE_RELEASE = "nextcloud-mcp"
BASE_FILES = {
    # file name -> predicate on (kind, component)
    "serviceaccount.yaml": lambda kind, comp: kind == "ServiceAccount",
    "auth-proxy.yaml": lambda kind, comp: comp == "auth-proxy" and kind not in ("NetworkPolicy",),
    "mcp-server.yaml": lambda kind, comp: comp == "mcp-server" and kind not in ("NetworkPolicy",),
    "ingress.yaml": lambda kind, comp: kind == "Ingress",
    "networkpolicy.yaml": lambda kind, comp: kind == "NetworkPolicy",
}
KIND_ORDER = ["ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet",
              "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy"]
HEADER = """\
# Generated from the Helm chart (helm/nextcloud-mcp) with its default values and
# tests/deploy/values/k8s-base.yaml by `tests/deploy/run.sh --write-k8s-base`; the validator
# fails when this file and the chart disagree. Change the chart, then regenerate.
"""


def _strip_helm(obj: Any) -> Any:
    """Remove what only makes sense under Helm: its labels and the checksum annotations."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("helm.sh/chart", "app.kubernetes.io/managed-by") or k.startswith("checksum/"):
                continue
            v = _strip_helm(v)
            if k == "annotations" and v == {}:
                continue
            out[k] = v
        return out
    if isinstance(obj, list):
        return [_strip_helm(x) for x in obj]
    return obj


def base_documents() -> dict[str, list[dict]]:
    """The k8s/base files as the chart renders them: {file name: [objects]}."""
    stream, _ = render(load_values(BASE_VALUES), release=BASE_RELEASE, namespace="default")
    files: dict[str, list[dict]] = {name: [] for name in BASE_FILES}
    for doc in docs_of(stream):
        doc = _strip_helm(doc)
        comp = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")
        for name, pred in BASE_FILES.items():
            if pred(doc["kind"], comp):
                files[name].append(doc)
                break
        else:
            raise SystemExit(f"k8s base: no file for {doc['kind']}/{doc['metadata']['name']}")
    for docs in files.values():
        docs.sort(key=lambda d: (KIND_ORDER.index(d["kind"]), d["metadata"]["name"]))
    return files


class _Dumper(yaml.SafeDumper):
    """Block style, sequences indented under their key, long strings kept on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: D401
        return super().increase_indent(flow, False)


def dump_documents(docs: list[dict]) -> str:
    parts = [yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
             for d in docs]
    return HEADER + "".join("---\n" + p for p in parts)


def write_k8s_base() -> list[Path]:
    written = []
    for name, docs in base_documents().items():
        path = K8S_BASE / name
        path.write_text(dump_documents(docs))
        written.append(path)
    return written
