"""The `dcign` command line (cli.py), the set-up script every command runs through (run.sh) and the
parameter profiles (profiles/); dvc.yaml at the top calls `dcign` for every stage."""
