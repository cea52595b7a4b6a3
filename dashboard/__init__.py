"""Streamlit dashboard comparing the four models of a pipeline run."""
