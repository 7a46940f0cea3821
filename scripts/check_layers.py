#!/usr/bin/env python3
"""Checks that the modules of each crate import one another one way only.

For every crate it reads the Rust sources, finds which top-level modules each module refers to
(`crate::x`, `use crate::{x, ..}`, and `super::x` inside a directory module, comments
excluded), and fails when

* the references form a circle (at the level of a crate's top-level modules, and of the
  files inside each directory module), or
* a reference goes up the declared layers (below: lower layers first; a module may use its own
  layer and the layers below it).

Run: python3 scripts/check_layers.py   (exit 0 and the layer order, or exit 1 and the offenders)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = {
    "crates/softclust/src": [
        # kernels
        {"error", "float", "simd", "matmul", "linalg", "data", "distance", "rng", "special", "assignment", "interrupt", "sparse"},
        # the contract: memberships, soft steps, scaling, typicality
        {"membership", "soft", "scale", "typicality", "topk", "projection"},
        # checking memberships: against labels, against each other
        {"metrics"},
        # algorithms
        {"kmeans", "fcm", "gmm", "consensus"},
        # beyond: model selection, models as values
        {"selection", "model"},
        # the crate root: declarations and re-exports
        {"lib"},
    ],
    "crates/softclust-cli/src": [
        {"error", "cli", "columns"},
        {"input", "output", "report", "progress", "model_io", "plot"},
        # files read block by block (.npy, Parquet); sparse .npz matrices
        {"source", "sparse_input"},
        {"prepare", "mixture", "pictures"},
        # fits out of core: passes over a file, block by block
        {"stream"},
        {"commands"},
        {"main"},
    ],
    "crates/softclust-py/src": [
        {"common"},
        {"soft"},
        {"model"},
        {"kmeans", "gmm", "fcm", "consensus", "metrics"},
        # fits over row blocks held by Python (Dask): kernels and delegating drivers
        {"blocks"},
        {"lib"},
    ],
}

COMMENT = re.compile(r"//.*?$", re.M)
CRATE_REF = re.compile(r"\bcrate::(\w+)")
CRATE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)
SUPER_REF = re.compile(r"\bsuper::(\w+)")
SUPER_GROUP = re.compile(r"\buse\s+super::\{([^;]*)\}", re.S)


def code(path: Path) -> str:
    return COMMENT.sub("", path.read_text())


def names_in_group(text: str) -> set[str]:
    # Top-level names of a use group: `a::b, c, d::{e, f}` -> {a, c, d}.
    depth, out, cur = 0, set(), ""
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.add(cur.strip().split("::")[0])
            cur = ""
            continue
        if depth == 0:
            cur += ch
    if cur.strip():
        out.add(cur.strip().split("::")[0])
    return {n for n in out if n}


def refs(text: str, single: re.Pattern, group: re.Pattern) -> set[str]:
    found = set(single.findall(text))
    for g in group.findall(text):
        found |= names_in_group(g)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary circle found by depth-first search (one per back edge)."""
    out, state, stack = [], {}, []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                out.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v)
    return out


def check_crate(src: Path, layers: list[set[str]]) -> list[str]:
    problems = []
    files = sorted(src.rglob("*.rs"))
    top = {f.relative_to(src).parts[0].removesuffix(".rs") for f in files}
    graph: dict[str, set[str]] = {m: set() for m in top}
    inner: dict[Path, dict[str, set[str]]] = {}
    for f in files:
        rel = f.relative_to(src)
        me = rel.parts[0].removesuffix(".rs")
        text = code(f)
        for other in refs(text, CRATE_REF, CRATE_GROUP):
            if other in top and other != me:
                graph[me].add(other)
        if len(rel.parts) > 1:  # a file inside a directory module: its sibling references
            d = f.parent
            siblings = {p.stem for p in d.glob("*.rs")} - {"mod"}
            g = inner.setdefault(d, {s: set() for s in siblings})
            me_inner = f.stem
            if me_inner != "mod":
                for other in refs(text, SUPER_REF, SUPER_GROUP):
                    if other in siblings and other != me_inner:
                        g[me_inner].add(other)
                pat = re.compile(r"\bcrate::" + r"::".join(rel.parts[:-1]) + r"::(\w+)")
                for other in pat.findall(text):
                    if other in siblings and other != me_inner:
                        g[me_inner].add(other)
    for c in cycles(graph):
        problems.append(f"{src}: circle of modules: {' -> '.join(c)}")
    for d, g in inner.items():
        for c in cycles(g):
            problems.append(f"{d}: circle of files: {' -> '.join(c)}")
    rank = {m: i for i, layer in enumerate(layers) for m in layer}
    for m in sorted(top):
        if m not in rank:
            problems.append(f"{src}: module '{m}' is in no layer (add it to scripts/check_layers.py)")
    for m, targets in sorted(graph.items()):
        for t in sorted(targets):
            if m in rank and t in rank and rank[t] > rank[m]:
                problems.append(f"{src}: '{m}' (layer {rank[m]}) uses '{t}' (layer {rank[t]}), a higher layer")
    return problems


def main() -> int:
    problems = []
    for src, layers in LAYERS.items():
        problems += check_crate(ROOT / src, layers)
    if problems:
        print("\n".join(problems))
        return 1
    for src, layers in LAYERS.items():
        print(f"{src}: " + " -> ".join("{" + ", ".join(sorted(l)) + "}" for l in layers) + ": no circles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
