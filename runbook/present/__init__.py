"""What people see: the terminal's lines and bars, the report page, the Lab's panels and overview, JUnit.

- ``checklist``: checks as text and HTML (a line each; badges, colours, the table with causes and fixes)
- ``report``: the record's report page, the ladder, throughput and the headline and verdict lines
- ``path_overview``: the overview notebook's path of steps, and a replay's banner
- ``ladder``: the GPU access ladder read from a run's checks
- ``plot``: the throughput chart (SVG)
- ``gpus``: a row per GPU where a host has several: each GPU's state in every health check
- ``panel``: the JupyterLab panel of a step (ipywidgets), with its pull bars
- ``progress``: a run's progress: pulls and the running check, on a terminal or in a CI log
- ``junit``: a run's checks as JUnit XML
- ``lab``: the notebooks opened in JupyterLab from a workspace of their own
"""
