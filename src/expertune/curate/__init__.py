"""Curation: quality checks that gate training, redaction and fixes as revisions, the data card."""

from expertune.curate.checks import check_names
from expertune.curate.findings import CheckReport, Finding, Ref, Span
from expertune.curate.gate import GateFailed, GateReport, gate_checks, run_gate
from expertune.curate.registry import check
from expertune.curate.runner import run_checks

__all__ = ["CheckReport", "Finding", "GateFailed", "GateReport", "Ref", "Span", "check", "check_names", "gate_checks",
           "run_checks", "run_gate"]
