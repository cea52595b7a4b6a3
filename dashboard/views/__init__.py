"""One thin script per dashboard page (run by st.navigation, not imported)."""
