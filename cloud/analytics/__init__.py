"""Analytics on the cloud (issue 7, "IRA part 1"): CLV models, RFM, KPIs, cohorts."""
