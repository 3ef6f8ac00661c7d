"""``worldalign report``: result files in, a static HTML folder a person opens in a browser.

Parses the inputs and ``--out``, calls ``worldalign.report.build_report`` and prints the path of
``index.html``. ``register`` adds the verb to the top-level parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPORT_EPILOG = """\
examples:
  worldalign report runs/rollout-swr runs/rollout-full --out runs/report
  worldalign report runs/rollout-swr/metrics.json runs/align-nft/before_after.json runs/wm --out runs/report

Each INPUT is recognised by its content: a rollout's metrics.json (worldalign rollout), an
alignment's before_after.json (worldalign align; its run's tensorboard/ gives the reward and
held-out curves), or a run folder holding one of them or, for worldalign train, a tensorboard/ log
(loss and flow-loss probe curves). OUT gets index.html, figures/ (matplotlib PNGs: metric vs
horizon per context policy with the baselines, before/after bars, training curves) and videos/
(copies of every video the results list, H.264 in yuv420p as browsers play it). Nothing is loaded
from the network: open OUT/index.html, or copy OUT anywhere. A result file from another command or
an older version, or a listed video that was not written, is an error naming the file and field.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``report`` to the top-level parser."""
    parser = verbs.add_parser(
        "report",
        help="a static HTML report (tables, plots, videos) of rollout, align and training results",
        description="Write a static HTML report of result files: tables, matplotlib plots and the videos.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="result JSON file or run folder")
    parser.add_argument("--out", required=True, type=Path, help="report folder (index.html, figures/, videos/)")
    parser.add_argument("--title", default="worldalign report", help="the page's title (default: %(default)s)")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from worldalign.report import build_report

    print(build_report(args.inputs, args.out, title=args.title))
    return 0
