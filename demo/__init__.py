"""Demo data for a local run (`python -m demo`): no installed app, never imported by the product."""
