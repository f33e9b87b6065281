"""Tools for the people who build this site, not for its readers: build options, a copy of the
checkout, the offline Python inventory. Used by the noxfile, the tests and the benchmark."""
