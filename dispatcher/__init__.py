"""Neighbour help-request dispatch service."""
