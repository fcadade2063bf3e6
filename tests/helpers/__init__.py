"""Helpers shared by the test packages (families, plugin fakes, export references)."""
