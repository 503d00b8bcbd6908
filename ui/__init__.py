"""Streamlit drawing helpers shared by the pages (no rules of the domain here)."""
