"""The evaluation report and what it says:

    build.py      the report: one self-contained HTML file of the registered sections, in order
    sections.py   the built-in sections (lineage, win rates, domains, grid, criteria, reliability,
                  failures, samples) and the ReportContext every section builder gets
    human.py      the section of human judgments and judge validity
    evidence.py   what the evidence amounts to: one line per metric per candidate (`eval run`,
                  `eval stats` and the report's first section all show it)
    plots.py      the report's matplotlib figures, as inline PNG
    html.py       escaping, numbers, tables and figures for every fragment (the tasks' too)
"""
