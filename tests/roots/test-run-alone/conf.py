"""Pages that run code side by side, and one that asks to run alone."""

extensions = ["jupyter_sphinx", "prefect_by_example"]
pbe_prefect_server = False  # no page here runs a flow
exclude_patterns = ["_build"]
