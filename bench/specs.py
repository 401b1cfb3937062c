"""Workload files: the project's spec format, one problem per line:

    problem <name> count=<k> n=<N> c=<C> h=<H> w=<W> groups=<G> eps=<e> act=<none|silu|relu>

Blank lines and '#' comments are ignored. A .csv in shared/workloads' format
(layer,count,n,c,h,w,groups,eps,act) is read too.
"""
import os
from dataclasses import dataclass

ACTS = {"none": 0, "silu": 1, "relu": 2}
LAYOUTS = {"nchw": 0, "nhwc": 1}


@dataclass(frozen=True)
class Problem:
    name: str
    count: int
    n: int
    c: int
    h: int
    w: int
    groups: int
    eps: float
    act: str

    @property
    def elems(self):
        return self.n * self.c * self.h * self.w

    @property
    def shape(self):
        return f"{self.n}x{self.c}x{self.h}x{self.w}"

    @property
    def label(self):
        return f"{self.shape} g{self.groups} {self.act}"


class SpecError(ValueError):
    pass


def _problem(fields, where):
    need = ("count", "n", "c", "h", "w", "groups", "eps", "act")
    missing = [k for k in need if k not in fields]
    if missing:
        raise SpecError(f"{where}: missing {', '.join(missing)}")
    try:
        p = Problem(fields["name"], int(fields["count"]), int(fields["n"]), int(fields["c"]),
                    int(fields["h"]), int(fields["w"]), int(fields["groups"]),
                    float(fields["eps"]), fields["act"].lower())
    except ValueError as e:
        raise SpecError(f"{where}: {e}") from None
    if p.act not in ACTS:
        raise SpecError(f"{where}: act must be one of {', '.join(ACTS)}, not {p.act!r}")
    if min(p.n, p.c, p.h, p.w, p.groups) <= 0 or p.c % p.groups:
        raise SpecError(f"{where}: bad sizes (groups must divide c, all sizes > 0)")
    return p


def parse_text(text, source="<spec>"):
    problems = []
    csv = source.endswith(".csv")
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{i}"
        if csv:
            cols = [c.strip() for c in line.split(",")]
            if len(cols) != 9:
                raise SpecError(f"{where}: expected 9 columns, got {len(cols)}")
            keys = ("name", "count", "n", "c", "h", "w", "groups", "eps", "act")
            problems.append(_problem(dict(zip(keys, cols)), where))
            continue
        words = line.split()
        if words[0] != "problem" or len(words) < 2:
            raise SpecError(f"{where}: expected 'problem <name> key=value ...'")
        fields = {"name": words[1]}
        for w in words[2:]:
            k, eq, v = w.partition("=")
            if not eq:
                raise SpecError(f"{where}: expected key=value, got {w!r}")
            fields[k] = v
        problems.append(_problem(fields, where))
    return problems


def load(path):
    with open(path) as f:
        return parse_text(f.read(), path)


def workload_name(path):
    return os.path.splitext(os.path.basename(path))[0]
