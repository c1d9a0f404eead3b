"""The trial report: ORR/DCR with exact CIs, best responses, DoR/PFS Kaplan-Meier, waterfall, spider and swimmer plots.

`build_report` writes HTML, a multi-page PDF, the plots as PNG and the numbers as CSV. Every number comes from the
response engine (`recist.evaluate_case`) and its endpoints module (`recist.endpoints.compute_endpoints`).
"""

from workstation.report.build import ReportFiles, build_report
from workstation.report.data import SubjectResult, select_reads

__all__ = ["ReportFiles", "SubjectResult", "build_report", "select_reads"]
