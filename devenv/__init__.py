"""Tooling for the local environment: versions, prerequisites, Docker, progress output.

Standard library only: the noxfile imports it before any virtual environment exists.
"""
