#!/usr/bin/env python3
"""Compare tfenc-bench JSON results side by side: a Markdown table on stdout and a chart.

    compare.py A.json B.json [C.json ...] [--by-shape] [--filter REGEX] [-o chart.png|chart.svg]

Rows are matched by benchmark name. With --by-shape the impl segment of kernel rows is dropped
(gemm/8x48__avx512/128x768x768/t1 and gemm/6x16__avx2/128x768x768/t1 both become
gemm/*/128x768x768/t1; ukernel rows keep only the thread count, their K slice being the
impl's), so runs under different TFENC_ISA caps or on different CPUs line up;
where a file has several impls for one shape, the kernel its context says the library selects
is shown (else the fastest). Baseline rows (openblas, onednn) and encoder rows keep their names.

Each row shows one throughput per file and its percentage: GB/s and % of triad bandwidth for
memory-bound rows (those reporting GB/s: layernorm, triad, GEMM with M <= 16), otherwise
GFLOP/s and % of the measured FMA peak; then the ratio of each file to the first (> 1: faster).
Standard library only; the PNG chart needs matplotlib, without it an SVG is written instead.
"""
import argparse
import html
import json
import math
import os
import re
import signal
import sys

BASELINES = {"openblas", "onednn"}
KERNEL_FAMILIES = {"gemm", "attention", "layernorm"}


def load(path):
    with open(path) as f:
        data = json.load(f)
    ctx = data.get("context", {})
    runs = data.get("benchmarks", [])
    # With --benchmark_repetitions, use the median aggregate (else the mean); plain runs as is.
    aggregates = [r for r in runs if r.get("run_type") == "aggregate"]
    if aggregates:
        pick = {}
        for want in ("mean", "median"):
            for r in aggregates:
                if r.get("aggregate_name") == want:
                    pick[r.get("run_name", r["name"])] = r
        runs = [dict(r, name=n) for n, r in pick.items()]
    rows = {}
    for r in runs:
        name = r.get("run_name", r["name"]) if r.get("run_type") == "aggregate" else r["name"]
        rows[name] = r
    return ctx, rows


def title(path, ctx):
    isa = ctx.get("TFENC_ISA", "(unset)")
    parts = [ctx.get("cpu_model", "unknown CPU"), "%s cores" % ctx.get("cores", ctx.get("num_cpus", "?")),
             "TFENC_ISA=%s" % isa, "isa %s" % ctx.get("isa_selected", "?")]
    if ctx.get("host_name"):
        parts.append("host %s" % ctx["host_name"])
    if ctx.get("date"):
        parts.append(ctx["date"][:10])
    return "%s: %s" % (os.path.basename(path), ", ".join(parts))


def short_label(path, ctx):
    isa = ctx.get("TFENC_ISA", "(unset)")
    cpu = ctx.get("cpu_model", "?")
    cpu = re.sub(r"\(R\)|\(TM\)|CPU|Processor|\s+@.*", "", cpu).strip()
    cpu = re.sub(r"\s+", " ", cpu)
    return "%s [%s]" % (cpu, isa if isa != "(unset)" else ctx.get("isa_selected", "?"))


def metric(r):
    """(value, unit, pct) of a row, or None when it has no throughput (e.g. failed)."""
    if r.get("error_occurred"):
        return None
    if "GB/s" in r:
        return r["GB/s"], "GB/s", r.get("pct_triad")
    if "GFLOP/s" in r:
        return r["GFLOP/s"], "GFLOP/s", r.get("pct_peak")
    if "tokens/s" in r:
        return r["tokens/s"], "tokens/s", r.get("pct_peak")
    return None


def shape_key(name):
    """Name with the impl segment dropped (kernel and peak rows); the impl, or None."""
    parts = name.split("/")
    if len(parts) < 3:
        return name, None
    fam, impl = parts[0], parts[1]
    if fam in KERNEL_FAMILIES and impl not in BASELINES:
        return "/".join([fam, "*"] + parts[2:]), impl
    if fam == "peak" and impl != "triad":
        return "/".join([fam, "fma"] + parts[2:]), impl
    if fam == "ukernel":  # ukernel/<impl>/kc<kc>/t<n>: the K slice is the impl's own
        return "/".join([fam, "*", parts[-1]]), impl
    return name, None


def by_shape(ctx, rows):
    """Collapses the impls of one shape into one row per file (see the module doc)."""
    groups = {}
    order = []
    for name, r in rows.items():
        key, impl = shape_key(name)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((impl, r))
    out = {}
    for key in order:
        cands = groups[key]
        fam = key.split("/")[0]
        chosen = None
        selected = ctx.get("kernel_" + fam)
        for impl, r in cands:
            if impl is not None and impl == selected and metric(r):
                chosen = (impl, r)
        if chosen is None:
            scored = [(metric(r)[0], i) for i, (impl, r) in enumerate(cands) if metric(r)]
            chosen = cands[max(scored)[1]] if scored else cands[0]
        out[key] = (chosen[0], chosen[1])
    return out


def fmt(v):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.1f" % v
    return "%.2f" % v


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def build_table(files, names, shape_mode):
    """Markdown lines and the chart data [(name, [value or None per file], unit)]."""
    head = ["benchmark", "unit"]
    for i, f in enumerate(files):
        tag = chr(ord("A") + i)
        head += [tag, tag + " %"]
        if i > 0:
            head.append("%s/A" % tag)
    if shape_mode:
        head.append("impls")
    align = ["---", "---"] + ["---:"] * (len(head) - 2 - (1 if shape_mode else 0))
    if shape_mode:
        align.append("---")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    chart = []
    ratios = {}
    for name in names:
        cells = [name, ""]
        vals, impls = [], []
        unit = None
        for i, f in enumerate(files):
            entry = f["rows"].get(name)
            impl, r = (entry if shape_mode else (None, entry)) if entry else (None, None)
            m = metric(r) if r else None
            v, u, pct = m if m else (None, None, None)
            unit = unit or u
            vals.append(v)
            impls.append(impl or "–")
            cells += [fmt(v), fmt(pct)]
            if i > 0:
                ratio = v / vals[0] if v and vals[0] else None
                cells.append("%.2f" % ratio if ratio else "–")
                if ratio:
                    ratios.setdefault((name.split("/")[0], i), []).append(ratio)
        cells[1] = unit or ""
        if shape_mode:
            cells.append(" / ".join(impls) if any(i != "–" for i in impls) else "")
        lines.append("| " + " | ".join(cells) + " |")
        chart.append((name, vals, unit))
    return lines, chart, ratios


def chart_png(path, labels, chart, title_text):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rel = len(labels) > 1
    n = len(chart)
    fig, ax = plt.subplots(figsize=(11, max(3, 0.22 * n * max(1, len(labels) - (1 if rel else 0)) + 1.5)))
    series = range(1, len(labels)) if rel else range(len(labels))
    h = 0.8 / len(list(series))
    for j, i in enumerate(series):
        ys, xs = [], []
        for k, (name, vals, unit) in enumerate(chart):
            v = vals[i]
            x = (v / vals[0]) if (rel and v and vals[0]) else (v if not rel else None)
            if x is not None:
                ys.append(k + j * h)
                xs.append(x)
        ax.barh(ys, xs, height=h, label=labels[i] + (" / " + labels[0] if rel else ""))
    ax.set_yticks([k + 0.4 - h / 2 for k in range(n)])
    ax.set_yticklabels([c[0] for c in chart], fontsize=7)
    ax.invert_yaxis()
    if rel:
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("throughput relative to " + labels[0])
    else:
        ax.set_xlabel("throughput (GFLOP/s or GB/s, see table)")
    ax.set_title(title_text, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def chart_svg(path, labels, chart, title_text):
    """The same chart as chart_png, drawn by hand."""
    rel = len(labels) > 1
    series = list(range(1, len(labels))) if rel else [0]
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
    bar, gap = 11, 6
    left, right, top = 330, 40, 60
    width = 1000
    plot_w = width - left - right
    group_h = bar * len(series) + gap
    xs = []
    for name, vals, unit in chart:
        for i in series:
            v = vals[i]
            if rel and v and vals[0]:
                xs.append(v / vals[0])
            elif not rel and v:
                xs.append(v)
    xmax = max(xs + [1.0]) * 1.08
    height = top + group_h * len(chart) + 50 + 16 * len(series)
    sx = lambda x: left + plot_w * x / xmax
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">'
           % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="13">%s</text>' % (10, html.escape(title_text)),
           '<text x="%d" y="40" font-size="11">%s</text>'
           % (10, html.escape("throughput relative to " + labels[0] if rel else
                              "throughput (GFLOP/s or GB/s, see table)"))]
    # Grid lines.
    step = 10 ** math.floor(math.log10(xmax / 4)) if xmax > 0 else 1
    for mult in (1, 2, 5):
        if xmax / (step * mult) <= 8:
            step *= mult
            break
    x = 0.0
    while x <= xmax:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                   % (sx(x), top - 5, sx(x), top + group_h * len(chart)))
        out.append('<text x="%.1f" y="%d" font-size="9" text-anchor="middle">%g</text>'
                   % (sx(x), top - 8, round(x, 6)))
        x += step
    for k, (name, vals, unit) in enumerate(chart):
        y0 = top + k * group_h
        out.append('<text x="%d" y="%d" font-size="9" text-anchor="end">%s</text>'
                   % (left - 6, y0 + group_h / 2 + 2, html.escape(name)))
        for j, i in enumerate(series):
            v = vals[i]
            val = (v / vals[0]) if (rel and v and vals[0]) else (v if not rel else None)
            if val is None:
                continue
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                       % (left, y0 + j * bar, max(0.5, sx(val) - left), bar - 1,
                          colors[j % len(colors)], html.escape("%s: %.3g" % (labels[i], val))))
    if rel:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>'
                   % (sx(1.0), top - 5, sx(1.0), top + group_h * len(chart)))
    ly = top + group_h * len(chart) + 20
    for j, i in enumerate(series):
        out.append('<rect x="%d" y="%d" width="12" height="10" fill="%s"/>'
                   % (left, ly + 16 * j, colors[j % len(colors)]))
        out.append('<text x="%d" y="%d" font-size="11">%s</text>'
                   % (left + 18, ly + 16 * j + 9,
                      html.escape(labels[i] + (" / " + labels[0] if rel else ""))))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv=None):
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("files", nargs="+", help="Google Benchmark JSON files from tfenc-bench")
    ap.add_argument("--by-shape", action="store_true",
                    help="match kernel rows across impls/ISAs by shape (drop the impl segment)")
    ap.add_argument("--filter", default=None, help="only rows whose (normalised) name matches REGEX")
    ap.add_argument("--chart-filter", default=None,
                    help="only these rows in the chart (default: all rows present in every file)")
    ap.add_argument("-o", "--output", default=None, help="chart file: .png (needs matplotlib) or .svg")
    args = ap.parse_args(argv)

    files = []
    for path in args.files:
        ctx, rows = load(path)
        f = {"path": path, "ctx": ctx}
        f["rows"] = by_shape(ctx, rows) if args.by_shape else rows
        files.append(f)

    names = []
    seen = set()
    for f in files:
        for n in f["rows"]:
            if n not in seen:
                seen.add(n)
                names.append(n)
    if args.filter:
        rx = re.compile(args.filter)
        names = [n for n in names if rx.search(n)]

    print("# tfenc-bench comparison\n")
    for i, f in enumerate(files):
        print("- **%s** = %s" % (chr(ord("A") + i), title(f["path"], f["ctx"])))
    print()
    print("Columns: throughput per file (in the unit column), its % (of the measured FMA peak for "
          "GFLOP/s, of the triad bandwidth for GB/s), and the ratio to A (> 1: faster than A).\n")
    lines, chart, ratios = build_table(files, names, args.by_shape)
    if len(files) > 1 and ratios:
        print("Geometric mean of the ratios per family:\n")
        fams = sorted({fam for fam, _ in ratios})
        print("| family | " + " | ".join("%s/A" % chr(ord("A") + i) for i in range(1, len(files))) + " |")
        print("|---|" + "---:|" * (len(files) - 1))
        for fam in fams:
            cells = []
            for i in range(1, len(files)):
                g = geomean(ratios.get((fam, i), []))
                cells.append("%.2f (%d rows)" % (g, len(ratios[(fam, i)])) if g else "–")
            print("| %s | %s |" % (fam, " | ".join(cells)))
        print()
    print("\n".join(lines))

    if args.output:
        rows = [c for c in chart if all(v for v in c[1])]
        if args.chart_filter:
            rx = re.compile(args.chart_filter)
            rows = [c for c in rows if rx.search(c[0])]
        labels = [chr(ord("A") + i) + ": " + short_label(f["path"], f["ctx"]) for i, f in enumerate(files)]
        title_text = "tfenc-bench: " + " vs ".join(labels)
        out = args.output
        if not rows:
            print("compare.py: no rows present in every file; no chart written", file=sys.stderr)
            return 0
        if out.lower().endswith(".png"):
            try:
                chart_png(out, labels, rows, title_text)
            except ImportError:
                out = out[:-4] + ".svg"
                print("compare.py: matplotlib not available; writing %s instead" % out, file=sys.stderr)
                chart_svg(out, labels, rows, title_text)
        else:
            chart_svg(out, labels, rows, title_text)
        print("compare.py: chart written to %s" % out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
