"""The ``stickykit`` command.

Sub-commands: ``demo`` (the NPS of the bundled NPSgame survey, overall and by wave, with
adjusted-Wald intervals) and ``metrics`` (the registered metrics, plugins included). Exit codes:
0 success, 1 bad input, 2 usage error.

Examples
--------
>>> import contextlib, io
>>> with contextlib.redirect_stdout(io.StringIO()) as out:
...     code = main(["metrics"])
>>> code, "Net Promoter Score" in out.getvalue()
(0, True)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from stickykit.errors import StickykitError

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from stickykit.datasets import load_npsgame  # noqa: PLC0415
    from stickykit.engine import compute  # noqa: PLC0415
    from stickykit.plugins.registry import get_metric  # noqa: PLC0415

    survey = load_npsgame()
    result = compute(get_metric("nps", by="wave", alpha=args.alpha), survey)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print("NPSgame survey (French garden-centre chain, 13,954 responses; CC0 1.0)")
    print("Net Promoter Score overall and by survey wave:")
    print(result)
    print()
    print(f"Source: {result.reference}.")
    print(
        '"Net Promoter" and "NPS" are registered trademarks of Bain & Company, Inc., '
        "Satmetrix Systems, Inc. and Fred Reichheld."
    )
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from stickykit.plugins.registry import list_metrics  # noqa: PLC0415

    infos = list_metrics()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "family": i.family,
                        "input_kind": i.input_kind,
                        "summary": i.summary,
                        "source": i.source,
                    }
                    for i in infos
                ],
                indent=2,
            )
        )
        return 0
    width = max(len(i.name) for i in infos)
    family = max(len(i.family) for i in infos)
    kind = max(len(i.input_kind) for i in infos)
    for info in infos:
        print(
            f"{info.name:<{width}}  {info.family:<{family}}  {info.input_kind:<{kind}}  "
            f"{info.summary}  [{info.source}]"
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stickykit", description="Customer stickiness metrics with intervals."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="NPS of the bundled survey, overall and by wave")
    demo.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.set_defaults(run=_demo)
    metrics = sub.add_parser("metrics", help="list registered metrics, plugins included")
    metrics.add_argument("--json", action="store_true", help="print as JSON")
    metrics.set_defaults(run=_metrics)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except (StickykitError, ValueError) as exc:
        print(f"stickykit: error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
