"""Supervision: Orchestrator, CapitalAllocator, GlobalRiskMonitor, HealthMonitor."""
