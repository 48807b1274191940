"""Collection results as a supervisor reads them: the dashboard's and `regua report`'s tables.

- `results`: one function (`build`) turns the precomputed aggregates (bot.analytics.summed) into the
  KPI cards, the funnel and the tables, in pt-BR, for the console page, the terminal and the CSV alike;
- `experiments`: the readout of each experiment of the chosen creditor (bot.experiments), as rows;
- `query`: the question asked (period and creditor), parsed from a form or the command line;
- `csv_export`: a table as CSV for Brazilian spreadsheets, safe from formula injection;
- `charts`: the funnel and the recovery over time as server-side SVG.
"""
