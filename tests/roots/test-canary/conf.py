"""Two pages for the canary's report: one passes on any Prefect 3, one asserts what 3.8 did."""

extensions = ["jupyter_sphinx", "prefect_by_example"]
pbe_prefect_server = False  # no page here runs a flow
exclude_patterns = ["_build"]
