"""The reports over REST (analytics.md): GET each report (JSON or CSV), POST a cell as a tag."""
