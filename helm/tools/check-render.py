"""Asserts facts about rendered chart output.

usage: python check-render.py RENDERED.yaml 'EXPR' ['EXPR' ...]

Each EXPR is a Python expression that must be true, evaluated with these names:
  docs                  every rendered object (dicts)
  kinds()               the sorted list of "Kind/name"
  one(kind, name=None)  the one object of that kind (and name); fails if there are none or several
  has(kind)             whether any object of that kind exists
  pod(obj)              the pod spec of a Deployment, Job or CronJob
  container(obj, name)  a container of that pod spec, by name
  env(c)                a container's environment as {name: value or valueFrom}
  config(name=None)     the parsed config.json of the (named) ConfigMap that holds one
  text                  the rendered text
Prints one line per failed expression and exits 1 when any failed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        raise SystemExit(__doc__)
    text = Path(argv[1]).read_text()
    docs = [d for d in yaml.safe_load_all(text) if d]

    def matching(kind: str, name: str | None = None) -> list[dict]:
        return [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]

    def one(kind: str, name: str | None = None) -> dict:
        found = matching(kind, name)
        if len(found) != 1:
            raise AssertionError(f"expected one {kind}{' ' + name if name else ''}, got {len(found)}")
        return found[0]

    def pod(obj: dict) -> dict:
        spec = obj["spec"]
        if obj["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        return spec["template"]["spec"]

    def container(obj: dict, name: str) -> dict:
        found = [c for c in pod(obj)["containers"] if c["name"] == name]
        if len(found) != 1:
            raise AssertionError(f"expected one container {name} in {obj['kind']} {obj['metadata']['name']}, got {len(found)}")
        return found[0]

    def env(c: dict) -> dict:
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}

    def config(name: str | None = None) -> dict:
        maps = [d for d in matching("ConfigMap", name) if "config.json" in (d.get("data") or {})]
        if len(maps) != 1:
            raise AssertionError(f"expected one ConfigMap with config.json, got {len(maps)}")
        return json.loads(maps[0]["data"]["config.json"])

    names = {
        "docs": docs,
        "text": text,
        "kinds": lambda: sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs),
        "one": one,
        "has": lambda kind: bool(matching(kind)),
        "pod": pod,
        "container": container,
        "env": env,
        "config": config,
    }
    failed = 0
    for expr in argv[2:]:
        try:
            ok = eval(expr, {"__builtins__": __builtins__, **names})  # noqa: S307 - expressions come from helm/test.sh
            reason = "is false"
        except Exception as error:  # a missing key or object is a failed check, named below
            ok, reason = False, f"raised {type(error).__name__}: {error}"
        if not ok:
            failed += 1
            print(f"    check failed: {expr} {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
