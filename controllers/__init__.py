"""Flows that span several components (sending, ending a visit). main.py wires them."""
