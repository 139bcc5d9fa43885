"""Behaviour simulation: users meet pages day by day and leave logs."""
