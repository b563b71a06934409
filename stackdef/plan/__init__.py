"""Plan: what a stack will create and what it costs, offline — a typed model and its views."""

from __future__ import annotations

from stackdef.plan.build import build_plan
from stackdef.plan.model import Plan
from stackdef.plan.views import cost_markdown, plan_markdown, print_cold_start_table, print_cost_table, print_plan_table, print_sizing_table

__all__ = ["Plan", "build_plan", "cost_markdown", "plan_markdown", "print_cold_start_table", "print_cost_table", "print_plan_table", "print_sizing_table"]
