"""The reliability campaign's parts (issue 15); `bench/campaign.py` runs them and prints JSON."""
