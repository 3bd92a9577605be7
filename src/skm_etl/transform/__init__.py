"""Transform stage: runs the dbt project that computes the method (SPEC §3–§5)."""

from skm_etl.transform.dbt_runner import DbtRunResult, NodeFailure, run_dbt

__all__ = ["DbtRunResult", "NodeFailure", "run_dbt"]
