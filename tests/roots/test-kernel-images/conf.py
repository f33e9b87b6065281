"""A page whose code draws pictures into images/, in both kernels, embedded with `.. image::`."""

extensions = ["jupyter_sphinx", "prefect_by_example"]
pbe_prefect_server = False  # no page here runs a flow
pbe_kernels = ["python3", "prefect1"]
exclude_patterns = ["_build"]
jupyter_execute_kwargs = {"timeout": 120, "allow_errors": True}
