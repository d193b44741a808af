#!/usr/bin/env python3
"""The module graph of src/: which top-level module imports which, and whether the
layering holds. `python3 scripts/module-graph.py` prints the graph and exits 1 on a
broken rule; `--dot` prints it for Graphviz instead (`| dot -Tsvg > graph.svg`).

The layers, bottom to top (README.md, "Architecture"):
- infrastructure: no domain, no transport;
- domains: no transport (http, graphql, worker), except each domain's `graphql.rs`,
  which is its GraphQL face and belongs to the layer above;
- transports and runners: http, graphql, worker, and the domains' `graphql.rs`;
- the composition root, `app` (the state every layer is handed), `cli`, `main`.

Among infrastructure and domains the imports form no cycle. A grep, not a parser:
`crate::<module>` paths, in `use` lines and inline, outside `#[cfg(test)] mod tests`.
No crate does this for a Rust tree without building it (cargo-modules needs
rust-analyzer's crates, minutes to build); a regular expression is enough here.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
INFRASTRUCTURE = {
    "clock", "config", "db", "error", "ids", "metrics", "money", "outbox", "paging", "pubsub",
    "ratelimit", "reads", "redis", "shutdown", "telemetry", "text",
}
DOMAINS = {
    "admin", "auth", "booking", "box_office", "catalog", "checkout", "door", "loyalty",
    "notifications", "payments", "sale_queue", "seating", "seed", "tickets", "vouchers",
    "waitlist",
}
TRANSPORTS = {"http", "graphql", "worker"}
COMPOSITION = {"app", "cli"}


def modules():
    found = set()
    for entry in os.listdir(ROOT):
        path = os.path.join(ROOT, entry)
        if os.path.isdir(path) and entry != "bin":
            found.add(entry)
        elif entry.endswith(".rs") and entry not in ("lib.rs", "main.rs"):
            found.add(entry[:-3])
    return found


def imports(text, known):
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\b.*", "", text, flags=re.S)
    names = set(re.findall(r"crate::(\w+)", text))
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        names |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
    return names & known


def layer_of(module, file):
    if module in DOMAINS and os.path.basename(file) == "graphql.rs":
        return "transport"
    if module in DOMAINS:
        return "domain"
    if module in INFRASTRUCTURE:
        return "infrastructure"
    if module in TRANSPORTS:
        return "transport"
    if module in COMPOSITION:
        return "composition"
    return None


def graph():
    known = modules()
    edges = {}  # (from, to) -> files
    problems = []
    unplaced = sorted(m for m in known if layer_of(m, m + ".rs") is None)
    for module in unplaced:
        problems.append(f"{module}: in no layer (add it to scripts/module-graph.py)")
    for directory, _, files in os.walk(ROOT):
        if os.sep + "bin" in directory:
            continue
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, ROOT)
            module = rel.split(os.sep)[0].removesuffix(".rs")
            if module in ("lib", "main"):
                continue
            layer = layer_of(module, path)
            with open(path, encoding="utf-8") as f:
                targets = imports(f.read(), known) - {module}
            for target in sorted(targets):
                if target in COMPOSITION:
                    continue
                if layer in ("infrastructure", "domain"):
                    edges.setdefault((module, target), set()).add(rel)
                    if target in TRANSPORTS:
                        problems.append(f"{rel}: a {layer} module imports {target}")
                    if layer == "infrastructure" and target in DOMAINS:
                        problems.append(f"{rel}: infrastructure imports the domain {target}")
                if module == "graphql" and target == "http":
                    problems.append(f"{rel}: graphql imports http (http is above it)")
    return edges, problems


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    nodes = sorted({a for a, _ in edges} | {b for _, b in edges})
    out = {n: sorted(b for a, b in edges if a == n) for n in nodes}
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in out[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for n in nodes:
        if n not in index:
            visit(n)
    return found


def main():
    edges, problems = graph()
    if "--dot" in sys.argv:
        print("digraph screema {\n  rankdir=BT;")
        for (a, b) in sorted(edges):
            print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    by_module = {}
    for (a, b) in sorted(edges):
        by_module.setdefault(a, []).append(b)
    for layer, members in (("infrastructure", INFRASTRUCTURE), ("domains", DOMAINS)):
        print(f"{layer}:")
        for module in sorted(members):
            print(f"  {module} -> {', '.join(by_module.get(module, [])) or '(nothing)'}")
    for component in cycles(edges):
        inside = [
            f"{a} -> {b} ({', '.join(sorted(files))})"
            for (a, b), files in sorted(edges.items())
            if a in component and b in component
        ]
        problems.append("a cycle: " + "; ".join(inside))
    for problem in problems:
        print("BROKEN:", problem)
    print("module graph:", "layers hold, no cycles" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
