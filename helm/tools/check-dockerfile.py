"""Structural checks of the Dockerfile that hadolint does not make (no Docker engine is needed).

usage: python check-dockerfile.py Dockerfile .dockerignore

Checks: every base image (each FROM, the ARG defaults they use, the syntax frontend) is pinned
by an @sha256: digest; the stages exist; production dependencies come from `npm ci --omit=dev`;
the CPU build skips onnxruntime-node's download and the CUDA build asks for a variant that
onnxruntime-node's install script knows (read from node_modules when present); the trainer's
Python packages are installed from the hashed lock with --require-hashes and the kernel with
--no-deps; the serve, cuda and trainer images run as uid 10001 with the serve/train commands; no
model is copied in; every path copied from the build context survives .dockerignore. Prints each
failed check and exits 1 when any failed.
"""
from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path


def stages(text: str) -> dict[str, list[str]]:
    """Instructions per stage name (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out: dict[str, list[str]] = {}
    current = None
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(2) or f"<final:{m.group(1)}>"
            out[current] = [line]
        elif current is not None:
            out[current].append(line)
    return out


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def unpinned_images(text: str, stage_names: set[str]) -> list[str]:
    """Base images not pinned by digest: FROM lines, the ARG defaults they name, the syntax line."""
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    out: list[str] = []
    syntax = re.search(r"^#\s*syntax=(\S+)", text, re.M)
    if syntax and not DIGEST.search(syntax.group(1)):
        out.append(f"# syntax={syntax.group(1)}")
    for image in re.findall(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", text, re.M):
        ref = re.fullmatch(r"\$\{?(\w+)\}?", image)
        resolved = args.get(ref.group(1), image) if ref else image
        if resolved in stage_names or resolved == "scratch":
            continue
        if not DIGEST.search(resolved):
            out.append(f"FROM {image}" + (f" ({ref.group(1)}={resolved})" if ref else ""))
    return out


def ignored(path: str, patterns: list[str]) -> bool:
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern[1:] if negate else pattern
        p = p.rstrip("/")
        candidates = [p, p.replace("**/", "")]
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, c) for c in candidates for prefix in prefixes):
            verdict = not negate
    return verdict


def onnxruntime_variants() -> list[str] | None:
    script = Path("node_modules/onnxruntime-node/script/install-metadata.js")
    if not script.exists():
        return None
    code = "console.log(JSON.stringify(require('./' + process.argv[1]).requirements['linux/x64']))"
    try:
        return json.loads(subprocess.run(["node", "-e", code, str(script)], capture_output=True, text=True, check=True).stdout)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    text = Path(argv[1]).read_text()
    patterns = [l.strip() for l in Path(argv[2]).read_text().splitlines() if l.strip() and not l.startswith("#")]
    st = stages(text)
    failures: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            failures.append(message)

    for name in ("build", "deps", "deps-cuda", "runtime", "cuda", "trainer"):
        check(name in st, f"stage {name}: expected it in {argv[1]}, got stages {sorted(st)}")
    if failures:
        print("\n".join(failures))
        return 1
    body = {k: "\n".join(v) for k, v in st.items()}
    for image in unpinned_images(text, set(st)):
        failures.append(f"{image}: expected a base image pinned by @sha256:<digest> (a tag can move)")
    check("npm ci --omit=dev" in body["deps"], "stage deps: expected `npm ci --omit=dev`")
    check("ONNXRUNTIME_NODE_INSTALL=skip" in body["deps"], "stage deps: expected ONNXRUNTIME_NODE_INSTALL=skip (CPU needs no download)")
    m = re.search(r"ONNXRUNTIME_NODE_INSTALL=(\S+)", body["deps-cuda"])
    check(m is not None and "npm ci --omit=dev" in body["deps-cuda"], "stage deps-cuda: expected ONNXRUNTIME_NODE_INSTALL=<variant> and `npm ci --omit=dev`")
    variants = onnxruntime_variants()
    if m and variants is not None:
        check(m.group(1) in variants, f"stage deps-cuda: ONNXRUNTIME_NODE_INSTALL expected one of {variants} (onnxruntime-node's install metadata), got {m.group(1)}")
    check(re.search(r"ARG CUDA_IMAGE=nvidia/cuda:\S+-runtime-", text) is not None, "ARG CUDA_IMAGE: expected an nvidia/cuda runtime image")
    check(st["cuda"][0].split()[1] == "${CUDA_IMAGE}", f"stage cuda: expected FROM ${{CUDA_IMAGE}}, got {st['cuda'][0]}")
    for name in ("runtime", "cuda", "trainer"):
        users = [l.split()[1] for l in st[name] if l.upper().startswith("USER ")]
        check(bool(users) and users[-1] == "10001:10001", f"stage {name}: expected the last USER to be 10001:10001, got {users or 'none'}")
    for name in ("runtime", "cuda"):
        check('ENTRYPOINT ["node", "bin/clipn.js"]' in body[name], f"stage {name}: expected ENTRYPOINT [\"node\", \"bin/clipn.js\"]")
        check('CMD ["serve", "--config", "/etc/clipn/config.json"]' in body[name], f"stage {name}: expected CMD serve --config /etc/clipn/config.json")
    check('CMD ["train", "--config", "/etc/clipn/config.json"]' in body["trainer"], "stage trainer: expected CMD train --config /etc/clipn/config.json")
    check(re.search(r"pip install --require-hashes -r \S*training/requirements\.lock", body["trainer"]) is not None, "stage trainer: expected `pip install --require-hashes -r .../training/requirements.lock`")
    check(re.search(r"pip install --no-deps \S*(--no-build-isolation \S+)?", body["trainer"]) is not None and "--index-url" not in body["trainer"], "stage trainer: expected the kernel installed with --no-deps, and no other index")
    check("HEALTHCHECK" not in text, "HEALTHCHECK: expected none (Kubernetes probes /healthz and /readyz)")
    copies = [l for l in text.splitlines() if l.startswith("COPY") and "--from=" not in l]
    sources = [tok for l in copies for tok in l.split()[1:-1] if not tok.startswith("--")]
    check(not any(s.startswith("models") for s in sources), f"COPY: expected no model in the image, got {sources}")
    check(ignored("models/demo/manifest.json", patterns), ".dockerignore: expected models/ to be excluded")
    check(ignored("node_modules/x", patterns) and ignored("training/.venv/bin/python", patterns), ".dockerignore: expected node_modules and venvs to be excluded")
    for src in sources:
        check(not ignored(src, patterns), f"COPY {src}: expected it in the build context, but .dockerignore excludes it")
        check(Path(src).exists(), f"COPY {src}: expected it in the repository, got nothing there")
    if failures:
        print("\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
