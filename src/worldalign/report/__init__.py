"""Static HTML reports of results worldalign wrote: rollout metrics, alignment summaries and
training logs in; tables, matplotlib figures and the videos, in one folder a browser opens.

``build_report`` (``report.build``) is the entry point; ``report.inputs`` recognises and checks
the result files, ``report.logs`` reads TensorBoard curves, ``report.plots`` draws and
``report.html`` writes the page.
"""

from worldalign.report.build import build_report

__all__ = ["build_report"]
