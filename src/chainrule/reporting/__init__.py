"""Reporting: metrics, figures (matplotlib, Agg) and the run report.

Imports the engine, data and training floors below it; never the application or the CLI.
"""
