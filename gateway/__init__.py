"""The GraphQL gateway: the hub's front door for importers, manufacturers, verifiers and regulators."""
