"""Telemetry: metrics, history, bottlenecks, reports and logs."""
